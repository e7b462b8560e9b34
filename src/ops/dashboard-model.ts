import { readPausesInForce, type PauseRow } from './dispatch-pauses-view.js';
import { existsSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import type { Alert } from '../contract/alerts.js';
import type { Checkin } from '../contract/checkin.js';
import { HEALTH_STATES } from '../contract/pm-state.js';
import { nowIso } from '../contract/time.js';
import { holdOf, type WorkerSpec } from '../contract/worker-spec.js';
import { describeError } from '../errors.js';
import { checkRecordedRun } from '../process/identity.js';
import { readCheckin } from '../store/checkins.js';
import { daemonLiveness } from '../store/daemon-pid.js';
import type { HomePaths } from '../store/home.js';
import { listSpecIds, readSpec } from '../store/specs.js';
import { readTaskQueue } from '../store/tasks.js';
import { readAlertsFile } from './alerts-file.js';
import { assessDaemonHealth, type DaemonHealth } from './daemon-health.js';
import { ageSeconds } from './format.js';
import { parseTime, readPmStateView, type PmStateView } from './pm-state-view.js';

/** Trouble first: the order rows are listed in. A worker the daemon has not seen yet sorts before healthy. */
export const TROUBLE_ORDER = ['zombie', 'stalled', 'blocked', 'late', 'backoff', 'exited', 'starting', 'unseen', 'healthy'] as const;

export interface WorkerRow {
  readonly worker_id: string;
  readonly worker_type: string;
  readonly task_id: string | null;
  readonly status: string;
  /** As the daemon last assessed it; null when it has not seen this worker yet. */
  readonly health_state: string | null;
  readonly health_reason: string | null;
  readonly pid: number | null;
  readonly started_at: string | null;
  readonly uptime_seconds: number | null;
  readonly restarts: number;
  readonly last_checkin_at: string | null;
  readonly last_checkin_age_seconds: number | null;
  readonly progress_pct: number | null;
  readonly message: string | null;
  readonly next_restart_at: string | null;
  readonly next_restart_in_seconds: number | null;
  /** Held by an operator (stop-worker; fail-worker while it works): the daemon does not start or restart it. */
  readonly stopped: boolean;
  readonly stopped_at: string | null;
  /** Who and why, in words. */
  readonly stopped_reason: string | null;
  /** The task's description (spec.task.description), whole. */
  readonly description: string;
  /**
   * A running worker's process as checked now (identity and run token) while the daemon is not running:
   * 'gone' shows it exited, with no pid, whatever the daemon last saw. null: not checked (the daemon runs,
   * the worker is not running, or it ran on another host).
   */
  readonly liveness: 'alive' | 'gone' | null;
  /** Its whole run's CPU % and resident memory as the daemon last sampled them; null when not sampled. */
  readonly cpu_percent: number | null;
  readonly rss_bytes: number | null;
}

/** A worker that ended lately (worker-specs/completed/ or failed/), newest first. */
export interface RecentRow {
  readonly worker_id: string;
  readonly worker_type: string;
  readonly task_id: string | null;
  readonly description: string;
  readonly status: 'completed' | 'failed';
  /** When it completed or failed (execution.completed_at, else the file's mtime). */
  readonly ended_at: string | null;
  readonly ended_age_seconds: number | null;
  readonly exit_code: number | null;
  readonly signal: string | null;
  /** Why it failed. */
  readonly error: string | null;
}

/** How many recently ended workers the dashboard lists. */
export const RECENT_LIMIT = 10;

export interface AlertRow {
  readonly id: string;
  readonly type: string;
  readonly severity: string;
  readonly message: string;
  readonly metric_value: number;
  readonly threshold: number;
  readonly created_at: string;
  readonly age_seconds: number | null;
  readonly worker_ids: readonly string[];
}

export interface DashboardModel {
  readonly generated_at: string;
  readonly home: string;
  readonly daemon: DaemonHealth;
  /** True when the daemon is not running: health states are as it last saw them. */
  readonly health_stale: boolean;
  readonly workers: readonly WorkerRow[];
  readonly totals: { readonly workers: number; readonly by_health: Readonly<Record<string, number>>; readonly by_status: Readonly<Record<string, number>> };
  /** Tasks with status queued; null when task-queue.json cannot be read. */
  readonly queue_depth: number | null;
  readonly alerts: readonly AlertRow[];
  /** Dispatch pauses in force (dispatch-pauses.json). */
  readonly dispatch_pauses?: readonly PauseRow[];
  /** Files that could not be read, specs that do not validate. */
  readonly problems: readonly string[];
  /** The last workers that completed or failed, newest first (at most RECENT_LIMIT). */
  readonly recent: readonly RecentRow[];
  /** True when running workers' processes were checked now (the daemon is not running). */
  readonly liveness_checked: boolean;
}

export interface DashboardInput {
  readonly home: string;
  /** Wall-clock ms. */
  readonly now: number;
  readonly daemon: DaemonHealth;
  /** The valid specs of active/. */
  readonly specs: readonly WorkerSpec[];
  /** Each worker's latest check-in, when it has a readable one. */
  readonly checkins: ReadonlyMap<string, Checkin>;
  readonly pmState: PmStateView | undefined;
  readonly queueDepth: number | null;
  readonly alerts: readonly Alert[];
  readonly problems: readonly string[];
  readonly dispatchPauses?: readonly PauseRow[];
  /** Specs of workers that ended lately (completed/ and failed/), each with its file's mtime (ms). */
  readonly ended?: readonly { readonly spec: WorkerSpec; readonly mtimeMs: number }[];
  /** Running workers' processes checked now (the daemon is not running); absent: not checked. */
  readonly liveness?: ReadonlyMap<string, 'alive' | 'gone'>;
}

const rank = (health: string | null): number => {
  const index = (TROUBLE_ORDER as readonly string[]).indexOf(health ?? 'unseen');
  return index < 0 ? 0 : index;
};

/** One row per active spec, joined with what the daemon and the worker's own check-in say. */
export function buildWorkerRow(spec: WorkerSpec, checkin: Checkin | undefined, pmState: PmStateView | undefined, now: number, liveness?: 'alive' | 'gone'): WorkerRow {
  const seen = pmState?.workers[spec.worker_id];
  const execution = spec.execution;
  const gone = spec.status === 'running' && liveness === 'gone';
  // A check-in left by an earlier run of this worker does not speak for the current one.
  const sameRun = checkin !== undefined && (checkin.run_id == null || execution?.run_id == null || checkin.run_id === execution.run_id);
  const current = sameRun ? checkin : undefined;
  const running = spec.status === 'running' && !gone;
  const startedAt = running ? (execution?.started_at ?? seen?.started_at ?? null) : null;
  const lastCheckinAt = current?.timestamp ?? seen?.last_checkin ?? null;
  const nextRestartAt = spec.status === 'pending' ? (execution?.next_restart_at ?? seen?.next_restart_at ?? null) : null;
  const nextMs = parseTime(nextRestartAt);
  // The spec is the truth about the operator's hold (the daemon may not have seen it yet).
  const hold = holdOf(spec);
  return {
    worker_id: spec.worker_id,
    worker_type: spec.worker_type,
    task_id: spec.task_id,
    status: spec.status,
    health_state: gone ? 'exited' : (seen?.health_state ?? null),
    health_reason: gone ? 'its process is gone (checked now: the daemon is not running)' : (seen?.health_reason ?? null),
    pid: running ? (execution?.pid ?? seen?.pid ?? null) : null,
    started_at: startedAt,
    uptime_seconds: ageSeconds(now, parseTime(startedAt)),
    restarts: execution?.restart_count ?? seen?.restart_count ?? 0,
    last_checkin_at: lastCheckinAt,
    last_checkin_age_seconds: ageSeconds(now, parseTime(lastCheckinAt)),
    progress_pct: current?.progress_pct ?? seen?.progress_pct ?? null,
    message: current?.message ?? seen?.checkin_message ?? null,
    next_restart_at: nextRestartAt,
    next_restart_in_seconds: nextMs === undefined ? null : Math.max(0, Math.round((nextMs - now) / 1000)),
    stopped: hold !== null,
    stopped_at: hold?.at ?? null,
    stopped_reason: hold === null ? null : `${hold.action === 'fail' ? 'being failed' : 'stopped'} by ${hold.by ?? 'an operator'}${hold.reason ? `: ${hold.reason}` : ''}`,
    description: spec.task.description,
    liveness: spec.status === 'running' ? (liveness ?? null) : null,
    cpu_percent: running ? (seen?.resources?.cpu_percent ?? null) : null,
    rss_bytes: running ? (seen?.resources?.rss_bytes ?? null) : null,
  };
}

/** A row of the recent list from an ended spec (its file's mtime stands in for a missing completed_at). */
export function buildRecentRow(spec: WorkerSpec, mtimeMs: number, now: number): RecentRow {
  const endedAt = spec.execution?.completed_at ?? (Number.isFinite(mtimeMs) ? nowIso(mtimeMs) : null);
  return {
    worker_id: spec.worker_id,
    worker_type: spec.worker_type,
    task_id: spec.task_id,
    description: spec.task.description,
    status: spec.status === 'completed' ? 'completed' : 'failed',
    ended_at: endedAt,
    ended_age_seconds: ageSeconds(now, parseTime(endedAt)),
    exit_code: spec.execution?.exit_code ?? null,
    signal: spec.execution?.signal ?? null,
    error: spec.error ?? null,
  };
}

export function sortByTrouble(rows: readonly WorkerRow[]): WorkerRow[] {
  return [...rows].sort((a, b) => rank(a.health_state) - rank(b.health_state) || (a.worker_id < b.worker_id ? -1 : a.worker_id > b.worker_id ? 1 : 0));
}

/** The dashboard's whole content, from what was read. Pure: rendering and --json both start here. */
export function buildDashboardModel(input: DashboardInput): DashboardModel {
  const workers = sortByTrouble(input.specs.map((spec) => buildWorkerRow(spec, input.checkins.get(spec.worker_id), input.pmState, input.now, input.liveness?.get(spec.worker_id))));
  const recent = (input.ended ?? [])
    .map((e) => buildRecentRow(e.spec, e.mtimeMs, input.now))
    .sort((a, b) => (parseTime(b.ended_at) ?? 0) - (parseTime(a.ended_at) ?? 0))
    .slice(0, RECENT_LIMIT);
  const byHealth: Record<string, number> = Object.fromEntries(HEALTH_STATES.map((s) => [s, 0]));
  const byStatus: Record<string, number> = { pending: 0, running: 0, stopped: 0 };
  for (const row of workers) {
    const health = row.health_state ?? 'unseen';
    byHealth[health] = (byHealth[health] ?? 0) + 1;
    // A held worker counts as stopped, not as running or pending; one whose process is gone, as exited.
    const status = row.stopped ? 'stopped' : row.liveness === 'gone' ? 'exited' : row.status;
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }
  const alerts = input.alerts
    .filter((a) => a.status === 'active')
    .map((a) => ({
      id: a.id,
      type: a.type,
      severity: a.severity,
      message: a.message,
      metric_value: a.metric_value,
      threshold: a.threshold,
      created_at: a.created_at,
      age_seconds: ageSeconds(input.now, parseTime(a.created_at)),
      worker_ids: a.worker_ids,
    }));
  return {
    generated_at: nowIso(input.now),
    home: input.home,
    daemon: input.daemon,
    health_stale: !input.daemon.running,
    workers,
    totals: { workers: workers.length, by_health: byHealth, by_status: byStatus },
    queue_depth: input.queueDepth,
    alerts,
    dispatch_pauses: input.dispatchPauses ?? [],
    problems: input.problems,
    recent,
    liveness_checked: input.liveness !== undefined,
  };
}

/**
 * The newest `limit` valid specs of completed/ or failed/ by file mtime: only those files are parsed, so a
 * folder of thousands of old specs costs a listing and a stat each, not a parse each.
 */
function newestEnded(paths: HomePaths, folder: 'completed' | 'failed', limit: number, problems: string[]): { spec: WorkerSpec; mtimeMs: number }[] {
  let ids: string[];
  try {
    ids = listSpecIds(paths, folder);
  } catch (error) {
    problems.push(describeError(error));
    return [];
  }
  const stamped: { id: string; mtimeMs: number }[] = [];
  for (const id of ids) {
    try {
      stamped.push({ id, mtimeMs: statSync(paths.specFile(folder, id)).mtimeMs });
    } catch {
      // Moved on since the listing, or not a valid id.
    }
  }
  stamped.sort((a, b) => b.mtimeMs - a.mtimeMs);
  const out: { spec: WorkerSpec; mtimeMs: number }[] = [];
  for (const { id, mtimeMs } of stamped) {
    if (out.length >= limit) break;
    const read = readSpec(paths, folder, id);
    if (read?.ok === true) out.push({ spec: read.spec, mtimeMs });
  }
  return out;
}

/** Each running spec's process checked now (checkRecordedRun), for a dashboard with no daemon to ask. */
function checkLiveness(specs: readonly WorkerSpec[]): Map<string, 'alive' | 'gone'> {
  const out = new Map<string, 'alive' | 'gone'>();
  for (const spec of specs) {
    if (spec.status !== 'running') continue;
    const check = checkRecordedRun(spec.execution);
    if (check !== undefined) out.set(spec.worker_id, check === 'alive' ? 'alive' : 'gone');
  }
  return out;
}

/** Reads everything the dashboard shows (never writes) and builds its model. */
export function collectDashboardModel(paths: HomePaths, now: number = Date.now()): DashboardModel {
  const problems: string[] = [];
  const rel = (file: string): string => relative(paths.home, file);
  const pmRead = readPmStateView(paths);
  if (pmRead.problem !== undefined) problems.push(pmRead.problem);
  let daemon: DaemonHealth;
  try {
    daemon = assessDaemonHealth({
      liveness: daemonLiveness(paths),
      pidFileExists: existsSync(paths.daemonPidFile),
      pmState: pmRead.state,
      now,
      pidFileName: rel(paths.daemonPidFile),
    });
  } catch (error) {
    problems.push(describeError(error));
    daemon = assessDaemonHealth({ liveness: { record: undefined, process: 'absent' }, pidFileExists: true, pmState: pmRead.state, now, pidFileName: rel(paths.daemonPidFile) });
  }
  const specs: WorkerSpec[] = [];
  const checkins = new Map<string, Checkin>();
  let ids: string[] = [];
  try {
    ids = listSpecIds(paths, 'active');
  } catch (error) {
    problems.push(describeError(error));
  }
  for (const id of ids) {
    const read = readSpec(paths, 'active', id);
    if (read === undefined) continue; // Moved on between the listing and the read.
    if (!read.ok) {
      problems.push(`${rel(read.file)}: ${read.error.message.replace(`${read.file}: `, '')}`);
      continue;
    }
    specs.push(read.spec);
    try {
      const checkin = readCheckin(paths, id);
      if (checkin?.ok) checkins.set(id, checkin.checkin);
    } catch {
      // An unreadable check-in only means the row shows what pm-state says.
    }
  }
  let queueDepth: number | null = null;
  try {
    queueDepth = readTaskQueue(paths).tasks.filter((t) => t.status === 'queued').length;
  } catch (error) {
    problems.push(describeError(error));
  }
  const alertsRead = readAlertsFile(paths);
  if (!alertsRead.ok) problems.push(alertsRead.reason);
  const pauses = readPausesInForce(paths, now);
  if (pauses.problem !== undefined) problems.push(pauses.problem);
  const ended = [...newestEnded(paths, 'completed', RECENT_LIMIT, problems), ...newestEnded(paths, 'failed', RECENT_LIMIT, problems)];
  const liveness = daemon.running ? undefined : checkLiveness(specs);
  return buildDashboardModel({ home: paths.home, now, daemon, specs, checkins, pmState: pmRead.state, queueDepth, alerts: alertsRead.ok ? alertsRead.alerts : [], problems, dispatchPauses: pauses.pauses, ended, liveness });
}

