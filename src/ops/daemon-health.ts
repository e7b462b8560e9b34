import { describePauses, readPausesInForce, type PauseRow } from './dispatch-pauses-view.js';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { daemonLiveness, type DaemonLiveness } from '../store/daemon-pid.js';
import type { HomePaths } from '../store/home.js';
import { ageSeconds, formatDuration } from './format.js';
import { parseTime, readPmStateView, type PmStateView } from './pm-state-view.js';

/**
 * healthy: the daemon runs and passed recently. not_running: no pid file. stale_pid: a pid file whose
 * process is gone, reused or unreadable. starting: runs, no pass yet, still within the limit.
 * passes_stopped: runs, but no pass within the limit. config_invalid: runs and passes, but
 * worker-types.json on disk does not load (the last good version stays in force): a person must fix it.
 * redis_unavailable: runs and passes, but the redis backend's server does not answer (no task is taken).
 */
export type DaemonHealthState = 'healthy' | 'not_running' | 'stale_pid' | 'pid_file_missing' | 'starting' | 'passes_stopped' | 'config_invalid' | 'redis_unavailable';

/** worker-types.json as the daemon last saw it (pm-state.json `configuration.worker_types_file`). */
export interface WorkerTypesFileHealth {
  readonly status: 'ok' | 'invalid';
  readonly error: string | null;
  readonly invalid_since: string | null;
  /** The version in force and when it was loaded. */
  readonly version: string | null;
  readonly loaded_at: string | null;
  /** Types no longer in the file that active workers still name. */
  readonly removed_types: readonly string[];
}

export interface DaemonHealth {
  readonly ok: boolean;
  readonly state: DaemonHealthState;
  /** The daemon process runs (identified by pid, start ticks and boot id). */
  readonly running: boolean;
  /** One line for a person. */
  readonly message: string;
  readonly pid: number | null;
  readonly started_at: string | null;
  readonly uptime_seconds: number | null;
  readonly last_pass_at: string | null;
  readonly last_pass_age_seconds: number | null;
  readonly passes: number | null;
  readonly loop_interval_seconds: number | null;
  /** A pass older than this means passes stopped: max(3 × loop interval, 15 s). */
  readonly max_pass_age_seconds: number | null;
  readonly last_pass_ms: number | null;
  /** worker-types.json as this daemon last saw it; null when pm-state.json does not say (or is not this daemon's). */
  readonly worker_types_file: WorkerTypesFileHealth | null;
  /** With the redis backend: the host's id, its leases, and whether Redis answered at the last pass (unavailable is a fault: no task is taken). */
  readonly queue?: { readonly backend: 'redis'; readonly name: string | null; readonly host_id: string | null; readonly redis: string | null; readonly leases: number | null };
  /** Dispatch pauses in force (dispatch-pauses.json): a drain, not a fault, so `ok` is unchanged. */
  readonly dispatch_pauses?: readonly PauseRow[];
}

export const MIN_PASS_AGE_LIMIT_SECONDS = 15;

export const maxPassAgeSeconds = (loopIntervalSeconds: number): number => Math.max(3 * loopIntervalSeconds, MIN_PASS_AGE_LIMIT_SECONDS);

export interface DaemonHealthInput {
  readonly liveness: DaemonLiveness;
  /** The pid file exists (it may still be unreadable, then liveness says absent). */
  readonly pidFileExists: boolean;
  readonly pmState: PmStateView | undefined;
  /** Wall-clock ms. */
  readonly now: number;
  /** How to name the pid file in messages. */
  readonly pidFileName: string;
}

/** Is this home's daemon up and passing? A pure function of the pid record's liveness, pm-state and now. */
export function assessDaemonHealth(input: DaemonHealthInput): DaemonHealth {
  const { liveness, pmState, now } = input;
  const record = liveness.record;
  const empty = {
    pid: record?.pid ?? null,
    started_at: record?.started_at ?? null,
    uptime_seconds: null,
    last_pass_at: pmState?.daemon.last_loop ?? null,
    last_pass_age_seconds: ageSeconds(now, parseTime(pmState?.daemon.last_loop)),
    passes: pmState?.daemon.loops_completed ?? null,
    loop_interval_seconds: record?.loop_interval_seconds ?? pmState?.daemon.loop_interval_seconds ?? null,
    max_pass_age_seconds: null,
    last_pass_ms: pmState?.daemon.last_pass_ms ?? null,
    worker_types_file: null,
  };
  if (liveness.anchorHeld === true && liveness.process !== 'alive') {
    // Removed with coordination/, or overwritten: the daemon writes it again at its next periodic pass.
    const what = record === undefined ? (input.pidFileExists ? 'is unreadable' : 'is missing') : 'names another process';
    return { ok: false, state: 'pid_file_missing', running: true, message: `pm-daemon runs (it holds this home) but its pid file ${what} (${input.pidFileName}): it writes it again at its next pass`, ...empty, pid: null, started_at: null };
  }
  if (record === undefined || liveness.process === 'absent') {
    if (input.pidFileExists) {
      return { ok: false, state: 'stale_pid', running: false, message: `pm-daemon not running: stale pid file (${input.pidFileName} is unreadable)`, ...empty };
    }
    return { ok: false, state: 'not_running', running: false, message: `pm-daemon not running: no pid file (${input.pidFileName})`, ...empty };
  }
  if (liveness.process !== 'alive') {
    const why = liveness.process === 'gone' ? `process ${record.pid} is gone` : `pid ${record.pid} now belongs to another process`;
    return { ok: false, state: 'stale_pid', running: false, message: `pm-daemon not running: stale pid file (${why}; started ${record.started_at})`, ...empty };
  }

  const startedMs = parseTime(record.started_at);
  const limit = maxPassAgeSeconds(record.loop_interval_seconds);
  // Only a pass by this very daemon counts: pm-state may still hold the last pass of an earlier one.
  const ours = pmState !== undefined && (pmState.daemon.pid === undefined || pmState.daemon.pid === record.pid);
  let lastPassMs = ours ? parseTime(pmState.daemon.last_loop) : undefined;
  if (lastPassMs !== undefined && startedMs !== undefined && lastPassMs < startedMs - 1000) lastPassMs = undefined;
  const base = {
    ...empty,
    uptime_seconds: ageSeconds(now, startedMs),
    last_pass_at: lastPassMs === undefined ? null : new Date(lastPassMs).toISOString(),
    last_pass_age_seconds: ageSeconds(now, lastPassMs),
    passes: ours ? (pmState.daemon.loops_completed ?? null) : null,
    loop_interval_seconds: record.loop_interval_seconds,
    max_pass_age_seconds: limit,
    last_pass_ms: ours ? (pmState.daemon.last_pass_ms ?? null) : null,
    worker_types_file: ours ? workerTypesFileOf(pmState.configuration) : null,
  };
  const who = `pid ${record.pid}, up ${formatDuration(base.uptime_seconds)}`;
  if (lastPassMs === undefined) {
    const up = base.uptime_seconds ?? 0;
    if (up <= limit) {
      return { ok: false, state: 'starting', running: true, message: `pm-daemon starting (${who}): no pass completed yet`, ...base };
    }
    return { ok: false, state: 'passes_stopped', running: true, message: `pm-daemon running (${who}) but passes stopped: no pass completed since it started ${formatDuration(up)} ago (limit ${limit}s)`, ...base };
  }
  const age = base.last_pass_age_seconds ?? 0;
  if (age > limit) {
    return { ok: false, state: 'passes_stopped', running: true, message: `pm-daemon running (${who}) but passes stopped: last pass ${age}s ago (limit ${limit}s)`, ...base };
  }
  const passes = base.passes === null ? '' : `, ${base.passes} passes`;
  const config = base.worker_types_file;
  if (config?.status === 'invalid') {
    const since = config.invalid_since === null ? '' : ` since ${config.invalid_since}`;
    const inForce = config.loaded_at === null ? 'the last good version' : `the last good version (loaded ${config.loaded_at})`;
    return {
      ok: false,
      state: 'config_invalid',
      running: true,
      message: `pm-daemon running (${who}, last pass ${age}s ago) but worker-types.json does not load${since}: ${config.error ?? 'unknown error'}; ${inForce} stays in force until it is fixed`,
      ...base,
    };
  }
  const queue = ours && pmState.queue?.backend === 'redis' ? { backend: 'redis' as const, name: pmState.queue.name ?? null, host_id: pmState.queue.host_id ?? null, redis: pmState.queue.redis ?? null, leases: pmState.queue.leases ?? null } : undefined;
  if (queue?.redis === 'unavailable') {
    return { ok: false, state: 'redis_unavailable', running: true, message: `pm-daemon running (${who}, last pass ${age}s ago) as host ${queue.host_id ?? '?'} but redis does not answer: it supervises what runs and takes no new task`, ...base, queue };
  }
  const fleet = queue === undefined ? '' : `; host ${queue.host_id ?? '?'} of queue ${queue.name ?? '?'}, ${queue.leases ?? 0} leases`;
  return { ok: true, state: 'healthy', running: true, message: `pm-daemon healthy (${who}): last pass ${age}s ago${passes}${fleet}`, ...base, ...(queue === undefined ? {} : { queue }) };
}

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** pm-state.json's `configuration.worker_types_file`, read leniently (an older daemon does not write it). */
function workerTypesFileOf(configuration: Readonly<Record<string, unknown>>): WorkerTypesFileHealth | null {
  const raw = configuration.worker_types_file;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const f = raw as Record<string, unknown>;
  const removed = typeof f.removed_types === 'object' && f.removed_types !== null && !Array.isArray(f.removed_types) ? Object.keys(f.removed_types) : [];
  return {
    status: f.status === 'invalid' ? 'invalid' : 'ok',
    error: text(f.error),
    invalid_since: text(f.invalid_since),
    version: text(f.version),
    loaded_at: text(f.loaded_at),
    removed_types: removed,
  };
}

/** Reads the pid file, the process table and pm-state.json, and assesses the daemon. Never writes. */
export function checkDaemonHealth(paths: HomePaths, now: number = Date.now()): DaemonHealth {
  const health = assessDaemonHealth({
    liveness: daemonLiveness(paths),
    pidFileExists: existsSync(paths.daemonPidFile),
    pmState: readPmStateView(paths).state,
    now,
    pidFileName: relative(paths.home, paths.daemonPidFile),
  });
  const { pauses } = readPausesInForce(paths, now);
  if (pauses.length === 0) return health;
  return { ...health, message: `${health.message}; ${describePauses(pauses)}`, dispatch_pauses: pauses };
}
