import type { MonitoredWorker } from '../contract/pm-state.js';
import { nowIso } from '../contract/time.js';
import type { RunMemory } from '../core/health.js';
import { CostPace } from '../core/pace.js';
import { UsageSampler } from '../process/usage.js';
import type { ObservedWorker } from './observation.js';

/** One running worker's resources at the last sample: its whole run (every process carrying the run's token). */
export interface WorkerResources {
  readonly workerId: string;
  readonly workerType: string;
  readonly runId: string;
  /** CPU since the previous sample, in percent of one core; null on the first sample of the daemon. */
  readonly cpuPercent: number | null;
  readonly rssBytes: number;
  /** When it was sampled (ISO). */
  readonly sampledAt: string;
  /** What the decision core reads (core/decide.ts: the type's memory_limit_mb). */
  readonly memory: RunMemory;
}

/**
 * Sampling keeps to this share of a core: a sample that costs more than this share of `resource_sample_seconds`
 * (a fleet of a thousand workers' processes, about 150 ms of CPU, each new process's environment read) makes the
 * next one wait longer, up to SAMPLE_MAX_STRETCH times the interval. A few hundred workers sample on time.
 */
export const SAMPLE_SHARE = 0.005;
export const SAMPLE_MAX_STRETCH = 6;

const processCpuMs = (): number => {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
};

/**
 * The daemon's resource sampling: every `resource_sample_seconds` (stretched in a big fleet, see SAMPLE_SHARE),
 * at the pass that finds it due, one pass over /proc for all running workers (process/usage.ts UsageSampler);
 * the latest sample of each worker kept in memory, for the decision (the memory limit), pm-state.json's
 * `resources` and /metrics. Nothing here signals a process.
 */
export class ResourceSampling {
  private readonly sampler = new UsageSampler();
  /** worker id → its latest sample (of the run it had then). */
  private latest = new Map<string, WorkerResources>();
  /** When the next sample is due, on the daemon clock (null: at the next pass). */
  private dueAt: number | null = null;

  /** Samples, paced by their CPU time. */
  private readonly pace = new CostPace(SAMPLE_SHARE);

  /**
   * `tickMs`: the longest between two of the scheduler's periodic passes; a sample interval no shorter rides on them and wakes no pass of its own.
   * `cpuNow`: this process's CPU time in ms (what a sample costs is read from it).
   */
  constructor(
    private readonly intervalMs: number,
    private readonly tickMs: number,
    private readonly cpuNow: () => number = processCpuMs,
  ) {}

  /** The time from one sample to the next: the interval, or longer while a sample costs over SAMPLE_SHARE of it. */
  effectiveIntervalMs(): number {
    return this.pace.spacing(this.intervalMs, this.intervalMs * SAMPLE_MAX_STRETCH);
  }

  /** Samples the running workers when a sample is due; else keeps the last. */
  sampleIfDue(workers: readonly ObservedWorker[], now: number, wallNow: number): void {
    // A pass a little early (the tick and the sample both every few seconds) still samples: no sample is skipped for a few ms.
    if (this.intervalMs <= 0 || (this.dueAt !== null && now < this.dueAt - this.intervalMs / 10)) return;
    this.dueAt = now + this.intervalMs;
    const runs = new Map<string, ObservedWorker>();
    for (const worker of workers) {
      const runId = worker.spec.execution?.run_id;
      if (worker.view.status === 'running' && worker.view.process === 'alive' && typeof runId === 'string' && runId !== '') runs.set(runId, worker);
    }
    const latest = new Map<string, WorkerResources>();
    if (runs.size === 0) {
      // Nothing runs: no scan of /proc; the next sample starts afresh (its CPU % unknown), its kept fds released.
      this.sampler.close();
      this.latest = latest;
      return;
    }
    const sampledAt = nowIso(wallNow);
    const cpuBefore = this.cpuNow();
    const usages = this.sampler.sample(new Set(runs.keys()));
    this.pace.note(this.cpuNow() - cpuBefore);
    this.dueAt = now + this.effectiveIntervalMs();
    for (const [runId, usage] of usages) {
      const worker = runs.get(runId);
      if (worker === undefined) continue;
      const biggest = usage.processes.reduce<(typeof usage.processes)[number] | undefined>((max, p) => (max === undefined || p.rssBytes > max.rssBytes ? p : max), undefined);
      latest.set(worker.view.workerId, {
        workerId: worker.view.workerId,
        workerType: worker.view.workerType,
        runId,
        cpuPercent: usage.cpuPercent,
        rssBytes: usage.rssBytes,
        sampledAt,
        memory: {
          rssBytes: usage.rssBytes,
          processes: usage.processes.length,
          // The process itself: its command is read only if the decision logs it (memory_limit_exceeded).
          biggest: biggest ?? null,
        },
      });
    }
    this.latest = latest;
  }

  /** The worker's latest sample, only while it is of the run the worker has now. */
  of(worker: ObservedWorker): WorkerResources | undefined {
    const sample = this.latest.get(worker.view.workerId);
    return sample !== undefined && sample.runId === worker.spec.execution?.run_id && worker.view.status === 'running' ? sample : undefined;
  }

  /**
   * The sampled memory of each worker's current run, by worker id (what the decision core reads beside the views: a
   * sample must not make every view new, or every memoized health assessment would be worked out again). Undefined
   * while there is no sample.
   */
  memoryLookup(workers: readonly ObservedWorker[]): ((workerId: string) => RunMemory | undefined) | undefined {
    if (this.latest.size === 0) return undefined;
    let byId: Map<string, ObservedWorker> | undefined;
    return (workerId) => {
      byId ??= new Map(workers.map((w) => [w.view.workerId, w]));
      const worker = byId.get(workerId);
      return worker === undefined ? undefined : this.of(worker)?.memory;
    };
  }

  /** Releases the sampler's kept /proc fds (the daemon stops); a later sample would start afresh. */
  close(): void {
    this.sampler.close();
  }

  /** Every current sample (for /metrics). */
  current(workers: readonly ObservedWorker[]): WorkerResources[] {
    return workers.map((w) => this.of(w)).filter((s): s is WorkerResources => s !== undefined);
  }

  /** When the next sample is due, if sooner than the periodic pass, while any worker runs (the scheduler wakes a pass then); else null. */
  nextSampleAt(workers: readonly ObservedWorker[]): number | null {
    if (this.intervalMs <= 0 || this.intervalMs >= this.tickMs || this.dueAt === null) return null;
    return workers.some((w) => w.view.status === 'running' && w.view.process === 'alive') ? this.dueAt : null;
  }
}

/** pm-state.json's `resources` of a worker. */
export function resourcesEntry(sample: WorkerResources): NonNullable<MonitoredWorker['resources']> {
  return { cpu_percent: sample.cpuPercent, rss_bytes: sample.rssBytes, processes: sample.memory.processes, sampled_at: sample.sampledAt };
}
