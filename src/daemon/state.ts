import type { DaemonSettings, WorkerTypes } from '../config/load.js';
import type { MonitoredWorker, PmState } from '../contract/pm-state.js';
import { nowIso } from '../contract/time.js';
import { RATE_LIMIT_DEFAULTS } from '../contract/worker-types.js';
import { pauseScope, type DispatchPause } from '../contract/dispatch-pauses.js';
import { holdOf } from '../contract/worker-spec.js';
import type { HealthAssessment } from '../core/health.js';
import type { DaemonPid } from '../store/daemon-pid.js';
import type { WorkerTypesFileStatus } from './inputs.js';
import type { ObservedWorker } from './observer.js';
import { resourcesEntry, type WorkerResources } from './resources.js';

export interface DaemonCounters {
  restarts: number;
  completed: number;
  failed: number;
  zombies: number;
  stops: number;
  spawn_failures: number;
  spec_invalid: number;
  actions_held: number;
}

export interface StateInput {
  readonly self: DaemonPid;
  readonly lastLoopWall: number;
  readonly loops: number;
  readonly lastPassMs: number;
  readonly workers: readonly ObservedWorker[];
  readonly health: ReadonlyMap<string, HealthAssessment>;
  readonly counters: DaemonCounters;
  readonly tasksQueued: number;
  readonly invalidSpecs: number;
  readonly settings: DaemonSettings;
  readonly workerTypes: WorkerTypes;
  /** Where worker-types.json stands: the version in force, and whether the file on disk loads. */
  readonly workerTypesFile?: WorkerTypesFileStatus;
  readonly metricsEndpoint?: { host: string; port: number } | undefined;
  /** The dispatch pauses in force (dispatch-pauses.json). */
  readonly dispatchPauses?: readonly DispatchPause[];
  /** A worker's latest resource sample of its current run, when sampled. */
  readonly resources?: (worker: ObservedWorker) => WorkerResources | undefined;
  /** With the redis backend: where this host stands in the fleet. */
  readonly fleet?: { readonly leases: number; readonly redisAvailable: boolean; readonly queueCounts: Readonly<Record<string, number>> | undefined };
}

/** The worker's own git worktree, when its type gives it one (the spec's top-level `workspace`, see src/worker/start.ts). */
function workspacePathOf(spec: object): string | null {
  const workspace = (spec as { workspace?: unknown }).workspace;
  if (typeof workspace !== 'object' || workspace === null) return null;
  const path = (workspace as { path?: unknown }).path;
  return typeof path === 'string' ? path : null;
}

/** One worker's entry of monitored_workers. */
function monitoredEntry(worker: ObservedWorker, assessment: HealthAssessment, sample: WorkerResources | undefined): MonitoredWorker {
  const base = entryBase(worker, assessment);
  return sample === undefined ? base : { ...base, resources: resourcesEntry(sample) };
}

/** The entry but its resources, which come last. */
function entryBase(worker: ObservedWorker, assessment: HealthAssessment): MonitoredWorker {
  const { spec, view } = worker;
  const e = spec.execution;
  const hold = holdOf(spec);
  return {
    worker_id: spec.worker_id,
    task_id: spec.task_id,
    worker_type: spec.worker_type,
    health_state: assessment.state,
    health_reason: assessment.reason,
    status: spec.status,
    last_checkin: worker.checkin?.timestamp ?? null,
    checkin_count: worker.checkinCount,
    last_output: worker.lastOutput ?? null,
    session_id: e?.session_id ?? null,
    workspace: workspacePathOf(spec),
    // The shared queue's job this worker runs (redis backend), or null.
    job_id: spec.lease?.job_id ?? null,
    checkin_status: worker.checkin?.status ?? null,
    checkin_message: worker.checkin?.message ?? null,
    progress_pct: view.progress,
    restart_count: view.restartCount,
    pid: e?.pid ?? null,
    started_at: e?.started_at ?? null,
    next_restart_at: spec.status === 'pending' ? (e?.next_restart_at ?? null) : null,
    // Held by an operator (health_state "exited" once its process is gone): stays so until start-worker or restart-worker.
    stopped: hold !== null,
    stopped_at: hold?.at ?? null,
    stopped_by: hold?.by ?? null,
    stopped_reason: hold?.reason ?? null,
    stop_action: hold?.action ?? null,
    rate_limit_waits: e?.rate_limit_waits ?? 0,
    last_exit: e?.exit_code !== null && e?.exit_code !== undefined ? { exit_code: e.exit_code, signal: e.signal ?? null } : e?.signal ? { exit_code: null, signal: e.signal } : null,
  };
}

/**
 * What a worker's entry is made of: the spec and check-in the observer read (the same objects while their
 * files are unchanged), the counts, the health and the resource sample. Equal inputs make equal entries.
 */
interface EntryInputs {
  readonly spec: object;
  readonly checkin: object | null | undefined;
  readonly checkinCount: number;
  readonly lastOutput: string | null | undefined;
  readonly progress: number | null;
  readonly restartCount: number;
  readonly state: string;
  readonly reason: string;
  readonly sample: WorkerResources | undefined;
}

/** The same inputs but (perhaps) the resource sample: the entry's base is the same. */
const sameBase = (a: EntryInputs, worker: ObservedWorker, assessment: HealthAssessment): boolean =>
  a.spec === worker.spec &&
  a.checkin === worker.checkin &&
  a.checkinCount === worker.checkinCount &&
  a.lastOutput === worker.lastOutput &&
  a.progress === worker.view.progress &&
  a.restartCount === worker.view.restartCount &&
  a.state === assessment.state &&
  a.reason === assessment.reason;

interface MemoEntry extends EntryInputs {
  /** The entry without its resources, as JSON (`{...}`). */
  readonly base: string;
  /** Its line in pm-state.json, indented, in UTF-8: the id and the entry as one line of JSON. */
  readonly line: Buffer;
  /** The pass that last used it. */
  seen: number;
}

/** The previous passes' entries, by worker id: an entry whose key did not change is neither built nor serialized again. */
export class PmStateMemo {
  readonly entries = new Map<string, MemoEntry>();
  /** Bumped by each render. */
  pass = 0;
  /** Entries built (not reused) by the last render. */
  built = 0;
}

/** pm-state.json: the daemon's view after a pass. Only the daemon writes it (through PmStateText, which keeps the entries). */
export function buildPmState(input: StateInput): PmState {
  const monitored: Record<string, MonitoredWorker> = {};
  const byHealth: Record<string, number> = {};
  for (const worker of input.workers) {
    const id = worker.spec.worker_id;
    const assessment = input.health.get(id);
    if (assessment === undefined) continue;
    byHealth[assessment.state] = (byHealth[assessment.state] ?? 0) + 1;
    monitored[id] = monitoredEntry(worker, assessment, input.resources?.(worker));
  }
  return stateAround(input, monitored, Object.keys(monitored).length, byHealth);
}

/**
 * Each monitored worker's entry, from the memo while its inputs are the same (else built and serialized): the ids in
 * the order of `input.workers`, and the count of each health state.
 */
function memoEntries(input: StateInput, memo: PmStateMemo): { ids: string[]; byHealth: Record<string, number> } {
  const ids: string[] = [];
  const byHealth: Record<string, number> = {};
  memo.pass += 1;
  memo.built = 0;
  for (const worker of input.workers) {
    const id = worker.spec.worker_id;
    const assessment = input.health.get(id);
    if (assessment === undefined) continue;
    byHealth[assessment.state] = (byHealth[assessment.state] ?? 0) + 1;
    ids.push(id);
    const sample = input.resources?.(worker);
    const known = memo.entries.get(id);
    const same = known !== undefined && sameBase(known, worker, assessment);
    if (same && known.sample === sample) {
      known.seen = memo.pass;
      continue;
    }
    // A new sample alone (every resource_sample_seconds, for every running worker): only its resources are serialized.
    const base = same ? known.base : JSON.stringify(entryBase(worker, assessment));
    const json = sample === undefined ? base : `${base.slice(0, -1)},"resources":${JSON.stringify(resourcesEntry(sample))}}`;
    memo.entries.set(id, {
      spec: worker.spec,
      checkin: worker.checkin,
      checkinCount: worker.checkinCount,
      lastOutput: worker.lastOutput,
      progress: worker.view.progress,
      restartCount: worker.view.restartCount,
      state: assessment.state,
      reason: assessment.reason,
      sample,
      base,
      line: Buffer.from(`    ${JSON.stringify(id)}: ${json}`),
      seen: memo.pass,
    });
    memo.built += 1;
  }
  return { ids, byHealth };
}

/** Everything in pm-state.json around monitored_workers (`workers`: their count). */
function stateAround(input: StateInput, monitored: Record<string, MonitoredWorker>, workers: number, byHealth: Record<string, number>): PmState {
  const types = Object.fromEntries(
    Object.entries(input.workerTypes.types).map(([name, t]) => [
      name,
      {
        checkin_timeout_seconds: t.checkin_timeout_seconds,
        stall_timeout_seconds: t.stall_timeout_seconds,
        time_limit_seconds: t.time_limit_seconds,
        startup_grace_seconds: t.startup_grace_seconds,
        max_restarts: t.max_restarts,
        restart_backoff_seconds: t.restart_backoff_seconds,
        restart_backoff_max_seconds: t.restart_backoff_max_seconds,
        stop_grace_seconds: t.stop_grace_seconds,
        provider: t.provider ?? name,
        rate_limit_pause_threshold: t.rate_limit_pause_threshold ?? RATE_LIMIT_DEFAULTS.rate_limit_pause_threshold,
        max_rate_limit_waits: t.max_rate_limit_waits ?? RATE_LIMIT_DEFAULTS.max_rate_limit_waits,
        memory_limit_mb: t.memory_limit_mb ?? null,
      },
    ]),
  );
  const defaultType = input.workerTypes.defaultType === undefined ? undefined : input.workerTypes.types[input.workerTypes.defaultType];
  return {
    pm_daemon: {
      pid: input.self.pid,
      started_at: input.self.started_at,
      last_loop: nowIso(input.lastLoopWall),
      loops_completed: input.loops,
      loop_interval_seconds: input.settings.loopIntervalSeconds,
      last_pass_ms: Math.round(input.lastPassMs * 100) / 100,
      host: input.self.host,
      metrics: input.metricsEndpoint === undefined ? null : { host: input.metricsEndpoint.host, port: input.metricsEndpoint.port },
    },
    monitored_workers: monitored,
    dispatch: {
      paused: (input.dispatchPauses ?? []).length > 0,
      pauses: (input.dispatchPauses ?? []).map((p) => ({
        scope: pauseScope(p),
        type: p.type,
        ...(p.types === undefined ? {} : { types: p.types, provider: p.provider ?? null }),
        reason: p.reason,
        until: p.until,
        by: p.by,
        at: p.at,
        ...(p.worker_ids === undefined ? {} : { worker_ids: p.worker_ids }),
      })),
    },
    queue: {
      backend: input.settings.queue.backend,
      ...(input.settings.queue.backend === 'redis'
        ? {
            name: input.settings.queue.name,
            host_id: input.settings.queue.hostId,
            redis: input.fleet === undefined ? null : input.fleet.redisAvailable ? 'available' : 'unavailable',
            leases: input.fleet?.leases ?? 0,
            lock_seconds: input.settings.queue.lockMs / 1000,
            jobs: input.fleet?.queueCounts ?? null,
          }
        : {}),
    },
    metrics: {
      workers_total: workers,
      workers_by_health: byHealth,
      tasks_queued: input.tasksQueued,
      invalid_specs: input.invalidSpecs,
      restarts_total: input.counters.restarts,
      zombies_detected_total: input.counters.zombies,
      workers_completed_total: input.counters.completed,
      workers_failed_total: input.counters.failed,
      workers_killed_total: input.counters.stops,
      spawn_failures_total: input.counters.spawn_failures,
      actions_held_total: input.counters.actions_held,
    },
    configuration: {
      loop_interval_seconds: input.settings.loopIntervalSeconds,
      max_concurrent_workers: input.settings.maxConcurrentWorkers,
      zombie_threshold: input.settings.alerts.zombie_threshold,
      // The default type's thresholds, named; every type's own are under worker_types.
      thresholds_of_worker_type: input.workerTypes.defaultType ?? null,
      checkin_timeout_seconds: defaultType?.checkin_timeout_seconds ?? null,
      stall_timeout_seconds: defaultType?.stall_timeout_seconds ?? null,
      time_limit_seconds: defaultType?.time_limit_seconds ?? null,
      mass_action_min: input.settings.massActionMin,
      resource_sample_seconds: input.settings.resourceSampleSeconds,
      alerts: input.settings.alerts,
      worker_types: types,
      ...(input.workerTypesFile === undefined ? {} : { worker_types_file: input.workerTypesFile }),
    },
  };
}

/**
 * pm-state.json's text: pretty-printed as JSON.stringify(state, null, 2) would, except that each monitored worker is
 * one line (`"id": {...}`, so `grep ID pm-state.json` shows a worker whole), serialized once and reused while its key
 * is the same: a fleet of 10,000 idle workers costs the few entries that changed, not 10,000. `changed` says whether
 * anything but the pass's own heartbeat (last_loop, loops_completed, last_pass_ms) differs from the previous text:
 * the daemon may then skip the write for a while.
 */
export class PmStateText {
  private readonly memo = new PmStateMemo();
  private previousRest: string | undefined;
  /** monitored_workers' parts as last made, and its workers in order: made again only when an entry or the order changed. */
  private monitored: { readonly ids: readonly string[]; readonly parts: readonly Buffer[] } | undefined;

  /**
   * The state after a pass: whether it changed, and its text, bytes, or the parts its bytes are made of (each worker's
   * line one of them: written with writev, never joined), made only when asked for (a write).
   */
  render(input: StateInput): { readonly changed: boolean; text(): string; bytes(): Buffer; parts(): Buffer[] } {
    const { ids, byHealth } = memoEntries(input, this.memo);
    // Workers no longer monitored are forgotten (and their going is a change).
    let gone = false;
    if (this.memo.entries.size > ids.length) {
      for (const [id, entry] of this.memo.entries) {
        if (entry.seen !== this.memo.pass) {
          this.memo.entries.delete(id);
          gone = true;
        }
      }
    }
    // monitored_workers stays out of the rest: its text is the entries' own.
    const state = stateAround(input, {}, ids.length, byHealth);
    const { last_loop: _lastLoop, loops_completed: _loops, last_pass_ms: _passMs, ...daemonRest } = state.pm_daemon;
    const rest = JSON.stringify({ ...state, pm_daemon: daemonRest, monitored_workers: undefined });
    // A worker added is an entry built; one gone, an entry forgotten: the count needs no check of its own.
    const changed = this.memo.built > 0 || gone || rest !== this.previousRest;
    this.previousRest = rest;
    if (this.memo.built > 0 || gone) this.monitored = undefined;
    const parts = (): Buffer[] => {
      // The placeholder keeps monitored_workers where JSON.stringify puts it (after pm_daemon, whose strings hold no NUL).
      const placeholder = JSON.stringify('\u0000monitored_workers');
      const around = `${JSON.stringify({ ...state, monitored_workers: '\u0000monitored_workers' }, null, 2)}\n`;
      const at = around.indexOf(placeholder);
      return [Buffer.from(around.slice(0, at)), ...this.monitoredParts(ids), Buffer.from(around.slice(at + placeholder.length))];
    };
    const bytes = (): Buffer => Buffer.concat(parts());
    return { changed, parts, bytes, text: () => bytes().toString('utf8') };
  }

  /** monitored_workers' parts: `{`, the entries' lines (each ending in `,` but the last), `}`; made again only when an entry or the order changed. */
  private monitoredParts(ids: readonly string[]): readonly Buffer[] {
    const known = this.monitored;
    if (known !== undefined && known.ids.length === ids.length && known.ids.every((id, i) => id === ids[i])) return known.parts;
    const entries = this.memo.entries;
    const parts: Buffer[] = ids.length === 0 ? [EMPTY] : [OPEN];
    for (const [i, id] of ids.entries()) {
      if (i > 0) parts.push(BETWEEN);
      parts.push((entries.get(id) as MemoEntry).line);
    }
    if (ids.length > 0) parts.push(CLOSE);
    this.monitored = { ids, parts };
    return parts;
  }
}

const OPEN = Buffer.from('{\n');
const BETWEEN = Buffer.from(',\n');
const CLOSE = Buffer.from('\n  }');
const EMPTY = Buffer.from('{}');
