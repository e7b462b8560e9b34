import { closeSync, fstatSync } from 'node:fs';
import type { Checkin } from '../contract/checkin.js';
import { assertValidId } from '../contract/ids.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import { RelayError } from '../errors.js';
import { runProcesses } from '../process/usage.js';
import { readCheckin } from '../store/checkins.js';
import { daemonLiveness, daemonRuns } from '../store/daemon-pid.js';
import type { HomePaths } from '../store/home.js';
import { findArchivedSpecWithBatch, findSpec } from '../store/specs.js';
import { buildWorkerRow } from './dashboard-model.js';
import { printable } from './fleet-render.js';
import { ageSeconds, formatDuration } from './format.js';
import { lastLogLines, openForReading, segmentsFromEnd } from './log-read.js';
import { parseTime, readPmStateView } from './pm-state-view.js';

export const DESCRIBE_EVENTS = 20;
export const DESCRIBE_LOG_LINES = 10;

export interface DescribedProcess {
  readonly pid: number;
  readonly ppid: number;
  readonly pgrp: number;
  readonly command: string;
  /** CPU use over the process's life, in percent of one core. */
  readonly cpu_percent: number;
  readonly rss_bytes: number;
}

/** Everything about one worker: what `describe` prints, and its --json. */
export interface WorkerDescription {
  readonly worker_id: string;
  readonly worker_type: string;
  readonly task_id: string | null;
  readonly description: string;
  readonly status: string;
  /** active, completed, failed or archived/<batch>. */
  readonly folder: string;
  readonly spec_file: string;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly completed_at: string | null;
  readonly error: string | null;
  /** As the daemon last assessed it (pm-state.json), null when it has not (or no longer) watches this worker. */
  readonly health: { readonly state: string | null; readonly reason: string | null; readonly as_of: string | null; readonly daemon_running: boolean };
  readonly restarts: number;
  readonly next_restart_at: string | null;
  readonly next_restart_in_seconds: number | null;
  readonly stopped: string | null;
  readonly pid: number | null;
  readonly run_id: string | null;
  readonly exit_code: number | null;
  readonly signal: string | null;
  readonly stop_reason: string | null;
  readonly last_exit_at: string | null;
  readonly session_id: string | null;
  readonly workspace: unknown;
  /** The live processes carrying the run's token, parents first. */
  readonly processes: readonly DescribedProcess[];
  readonly checkin: (Checkin & { readonly age_seconds: number | null }) | null;
  /** The last events about this worker in pm-activity.jsonl, oldest first. */
  readonly events: readonly Record<string, unknown>[];
  readonly log: { readonly file: string; readonly rotated_file: string; readonly last_lines: readonly string[] };
  readonly problems: readonly string[];
}

function locateSpec(paths: HomePaths, workerId: string): { spec: WorkerSpec; folder: string; file: string } {
  const read = findSpec(paths, workerId);
  if (read !== undefined) {
    if (!read.ok) throw read.error;
    return { spec: read.spec, folder: read.folder, file: read.file };
  }
  const archived = findArchivedSpecWithBatch(paths, workerId);
  if (archived !== undefined) return { spec: archived.spec, folder: `archived/${archived.batch}`, file: archived.file };
  throw new RelayError('SPEC_NOT_FOUND', `no worker "${workerId}": no spec in worker-specs/ (active, completed, failed or archived)`);
}

/** The last `count` events whose worker_id is this worker, oldest first, read from the end of pm-activity.jsonl. */
export function lastEventsOf(paths: HomePaths, workerId: string, count: number): Record<string, unknown>[] {
  const fd = openForReading(paths.activity);
  if (fd === undefined) return [];
  const found: Record<string, unknown>[] = [];
  try {
    for (const segment of segmentsFromEnd(fd, fstatSync(fd).size)) {
      if (found.length >= count) break;
      if (segment.length === 0) continue;
      try {
        const event: unknown = JSON.parse(segment.toString('utf8'));
        if (typeof event === 'object' && event !== null && (event as { worker_id?: unknown }).worker_id === workerId) found.push(event as Record<string, unknown>);
      } catch {
        // A torn or foreign line: not an event.
      }
    }
  } finally {
    closeSync(fd);
  }
  return found.reverse();
}

/** Reads everything about one worker (never writes). */
export function describeWorker(paths: HomePaths, workerId: string, now: number = Date.now()): WorkerDescription {
  assertValidId(workerId);
  const { spec, folder, file } = locateSpec(paths, workerId);
  const problems: string[] = [];
  const pm = readPmStateView(paths);
  if (pm.problem !== undefined) problems.push(pm.problem);
  const checkinRead = readCheckin(paths, workerId);
  if (checkinRead !== undefined && !checkinRead.ok) problems.push(checkinRead.reason);
  const checkin = checkinRead?.ok === true ? checkinRead.checkin : undefined;
  const row = buildWorkerRow(spec, checkin, pm.state, now);
  const execution = spec.execution;
  const runId = execution?.run_id ?? null;
  const active = folder === 'active';
  return {
    worker_id: spec.worker_id,
    worker_type: spec.worker_type,
    task_id: spec.task_id,
    description: spec.task.description,
    status: spec.status,
    folder,
    spec_file: file,
    created_at: spec.created_at,
    started_at: execution?.started_at ?? null,
    completed_at: execution?.completed_at ?? null,
    error: spec.error ?? null,
    health: {
      state: active ? row.health_state : null,
      reason: active ? row.health_reason : null,
      as_of: pm.state?.daemon.last_loop ?? null,
      daemon_running: daemonRuns(daemonLiveness(paths)),
    },
    restarts: row.restarts,
    next_restart_at: row.next_restart_at,
    next_restart_in_seconds: row.next_restart_in_seconds,
    stopped: row.stopped_reason,
    pid: row.pid,
    run_id: runId,
    exit_code: execution?.exit_code ?? null,
    signal: execution?.signal ?? null,
    stop_reason: execution?.stop_reason ?? null,
    last_exit_at: execution?.last_exit_at ?? null,
    session_id: execution?.session_id ?? null,
    workspace: (spec as { workspace?: unknown }).workspace ?? null,
    processes:
      runId === null
        ? []
        : runProcesses(runId).map((p) => ({ pid: p.pid, ppid: p.ppid, pgrp: p.pgrp, command: p.command, cpu_percent: p.lifeCpuPercent, rss_bytes: p.rssBytes })),
    checkin: checkin === undefined ? null : { ...checkin, age_seconds: ageSeconds(now, parseTime(checkin.timestamp)) },
    events: lastEventsOf(paths, workerId, DESCRIBE_EVENTS),
    log: { file: paths.workerLogFile(workerId), rotated_file: paths.workerRotatedLogFile(workerId), last_lines: lastLogLines(paths.workerLogFile(workerId), paths.workerRotatedLogFile(workerId), DESCRIBE_LOG_LINES) },
    problems,
  };
}

const mib = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
const or = (value: string | number | null | undefined, fallback = '-'): string => (value === null || value === undefined || value === '' ? fallback : printable(String(value)));
const ago = (iso: string | null, now: number): string => (iso === null ? '-' : `${iso} (${formatDuration(ageSeconds(now, parseTime(iso)))} ago)`);

/** The description as text, one screen, in the manner of `kubectl describe`. */
export function renderDescription(d: WorkerDescription, now: number = Date.now()): string {
  const out: string[] = [];
  const field = (name: string, value: string): void => void out.push(`${`${name}:`.padEnd(15)}${value}`);
  field('Worker', printable(d.worker_id));
  field('Type', printable(d.worker_type));
  field('Task', or(d.task_id));
  field('Description', or(d.description));
  field('Status', `${d.status}${d.stopped === null ? '' : ` (${printable(d.stopped)})`}, in worker-specs/${d.folder}/`);
  field('Created', d.created_at);
  field('Started', ago(d.started_at, now));
  if (d.completed_at !== null) field(d.status === 'completed' ? 'Completed' : 'Ended', d.completed_at);
  const healthWhy = d.health.state === null ? (d.folder === 'active' ? 'not seen by the daemon yet' : '- (finished)') : `${d.health.state}${d.health.reason === null ? '' : `: ${printable(d.health.reason)}`}`;
  const asOf = d.health.state === null ? '' : d.health.daemon_running ? '' : ` (the daemon is not running: as it last saw it${d.health.as_of === null ? '' : `, ${d.health.as_of}`})`;
  field('Health', `${healthWhy}${asOf}`);
  field('Restarts', `${d.restarts}${d.next_restart_at === null ? '' : `, next at ${d.next_restart_at} (in ${formatDuration(d.next_restart_in_seconds)})`}`);
  if (d.exit_code !== null || d.signal !== null) field('Last exit', `${d.signal === null ? `code ${d.exit_code}` : `signal ${d.signal}`}${d.last_exit_at === null ? '' : ` at ${d.last_exit_at}`}${d.stop_reason === null ? '' : `, ${printable(d.stop_reason)}`}`);
  if (d.error !== null) field('Error', printable(d.error));
  field('Session', or(d.session_id));
  const workspace = d.workspace as { path?: unknown; branch?: unknown } | null;
  field('Workspace', workspace === null || typeof workspace !== 'object' ? '-' : `${or(String(workspace.path ?? ''))}${typeof workspace.branch === 'string' ? ` (branch ${printable(workspace.branch)})` : ''}`);
  field('Run', `${or(d.run_id)}${d.pid === null ? '' : `, pid ${d.pid}`}`);
  if (d.processes.length === 0) field('Processes', 'no processes');
  else {
    field('Processes', `${d.processes.length}, ${mib(d.processes.reduce((sum, p) => sum + p.rss_bytes, 0))} resident in all`);
    out.push(`  ${'PID'.padStart(7)} ${'PPID'.padStart(7)} ${'CPU%'.padStart(6)} ${'RSS'.padStart(10)}  COMMAND`);
    for (const p of d.processes) out.push(`  ${String(p.pid).padStart(7)} ${String(p.ppid).padStart(7)} ${p.cpu_percent.toFixed(1).padStart(6)} ${mib(p.rss_bytes).padStart(10)}  ${printable(p.command)}`);
  }
  const c = d.checkin;
  field('Last check-in', c === null ? '-' : `${ago(c.timestamp, now)}: ${c.status}, ${c.progress_pct}%${c.message ? `, ${printable(c.message)}` : ''}`);
  out.push(`Events (last ${DESCRIBE_EVENTS}):${d.events.length === 0 ? ' none' : ''}`);
  for (const e of d.events) {
    const data = e.data === undefined || (typeof e.data === 'object' && e.data !== null && Object.keys(e.data).length === 0) ? '' : ` ${printable(JSON.stringify(e.data))}`;
    out.push(`  ${or(e.timestamp as string)}  ${or(e.event as string)}${data}`);
  }
  field('Log', printable(d.log.file));
  out.push(...(d.log.last_lines.length === 0 ? ['  (empty)'] : d.log.last_lines.map((line) => `  ${printable(line)}`)));
  for (const problem of d.problems) out.push(`Problem:       ${printable(problem)}`);
  return `${out.join('\n')}\n`;
}
