import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HEALTH_STATES, type HealthState } from '../contract/pm-state.js';

export const METRIC_PREFIX = 'commit_relay_';

/** Running totals as the daemon keeps them (pm-state.json `metrics`); they only grow while it runs. */
export interface MetricTotals {
  readonly restarts_total: number;
  readonly zombies_detected_total: number;
  readonly workers_completed_total: number;
  readonly workers_failed_total: number;
}

/** What the daemon knows at the end of one pass. */
export interface PassMetrics {
  readonly workersByHealth: Partial<Record<HealthState, number>>;
  readonly tasksQueued: number;
  /** How long the pass took (ms). */
  readonly passDurationMs: number;
  /** When it ended (wall-clock ms). */
  readonly passEndedAt: number;
  readonly totals: MetricTotals;
}

/** The shared queue's job states as /metrics exports them (fleet/hosts.ts queueCounts folds BullMQ's into these). */
export const QUEUE_JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
export type QueueJobState = (typeof QUEUE_JOB_STATES)[number];

/** One worker's resources, as /metrics exports them. */
export interface WorkerResourceSample {
  readonly workerId: string;
  readonly workerType: string;
  readonly cpuPercent: number | null;
  readonly rssBytes: number;
}

export interface DaemonMetrics {
  readonly registry: Registry;
  /** Call once after each pass: sets the gauges, observes the duration, brings the counters up to the totals. */
  recordPass(pass: PassMetrics): void;
  /**
   * The redis backend's shared-queue counts (commit_relay_queue_jobs{state}). The gauge exists from the first
   * call on, so a daemon on the file backend, which never calls it, exports only tasks_queued as before.
   */
  setQueueCounts(counts: Readonly<Record<QueueJobState, number>>): void;
  /**
   * Each running worker's CPU and resident memory at its last sample (commit_relay_worker_cpu_percent and
   * commit_relay_worker_memory_bytes {worker_id, worker_type}); the gauges are reset first, so a worker that
   * ended drops out. A worker whose CPU is not known yet has no CPU series.
   */
  setWorkerResources(workers: readonly WorkerResourceSample[]): void;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /** Also export the process's own metrics (CPU, memory, event-loop lag) under the prefix. Default true. */
  readonly processMetrics?: boolean;
}

const COUNTER_HELP: Record<keyof MetricTotals, string> = {
  restarts_total: 'Worker restarts',
  zombies_detected_total: 'Workers found to be zombies (running spec, no process)',
  workers_completed_total: 'Workers whose process exited 0',
  workers_failed_total: 'Workers given up on (moved to failed/)',
};

/** The daemon's metrics on a registry of their own (never prom-client's global one). */
export function createDaemonMetrics(options: MetricsOptions = {}): DaemonMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const workers = new Gauge({ name: `${METRIC_PREFIX}workers`, help: 'Active workers by health state', labelNames: ['state'], registers: [registry] });
  const queued = new Gauge({ name: `${METRIC_PREFIX}tasks_queued`, help: 'Tasks waiting in task-queue.json', registers: [registry] });
  const lastPass = new Gauge({ name: `${METRIC_PREFIX}last_pass_timestamp_seconds`, help: 'When the last daemon pass ended (Unix time)', registers: [registry] });
  const passDuration = new Histogram({
    name: `${METRIC_PREFIX}pass_duration_seconds`,
    help: 'How long one daemon pass takes',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const counters = Object.fromEntries(
    (Object.keys(COUNTER_HELP) as (keyof MetricTotals)[]).map((key) => [key, new Counter({ name: `${METRIC_PREFIX}${key}`, help: COUNTER_HELP[key], registers: [registry] })]),
  ) as Record<keyof MetricTotals, Counter>;
  const seen: Record<keyof MetricTotals, number> = { restarts_total: 0, zombies_detected_total: 0, workers_completed_total: 0, workers_failed_total: 0 };
  for (const state of HEALTH_STATES) workers.set({ state }, 0);
  let queueJobs: Gauge | undefined;
  const workerLabels = ['worker_id', 'worker_type'];
  const workerCpu = new Gauge({ name: `${METRIC_PREFIX}worker_cpu_percent`, help: "A running worker's CPU since the previous sample (whole run), percent of one core", labelNames: workerLabels, registers: [registry] });
  const workerMemory = new Gauge({ name: `${METRIC_PREFIX}worker_memory_bytes`, help: "A running worker's resident memory (whole run: every process carrying its token)", labelNames: workerLabels, registers: [registry] });

  return {
    registry,
    contentType: registry.contentType,
    recordPass(pass: PassMetrics): void {
      for (const state of HEALTH_STATES) workers.set({ state }, pass.workersByHealth[state] ?? 0);
      queued.set(pass.tasksQueued);
      lastPass.set(pass.passEndedAt / 1000);
      passDuration.observe(Math.max(0, pass.passDurationMs) / 1000);
      // Counters only go up: add what grew since the last pass; a total that went down (a reset) is ignored.
      for (const key of Object.keys(seen) as (keyof MetricTotals)[]) {
        const total = pass.totals[key];
        if (Number.isFinite(total) && total > seen[key]) {
          counters[key].inc(total - seen[key]);
          seen[key] = total;
        }
      }
    },
    setQueueCounts(counts: Readonly<Record<QueueJobState, number>>): void {
      queueJobs ??= new Gauge({ name: `${METRIC_PREFIX}queue_jobs`, help: 'Jobs in the shared queue (redis backend) by state', labelNames: ['state'], registers: [registry] });
      for (const state of QUEUE_JOB_STATES) queueJobs.set({ state }, counts[state]);
    },
    setWorkerResources(samples: readonly WorkerResourceSample[]): void {
      workerCpu.reset();
      workerMemory.reset();
      for (const s of samples) {
        const labels = { worker_id: s.workerId, worker_type: s.workerType };
        workerMemory.set(labels, s.rssBytes);
        if (s.cpuPercent !== null) workerCpu.set(labels, s.cpuPercent);
      }
    },
    render: () => registry.metrics(),
  };
}
