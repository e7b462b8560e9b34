import { formatDuration, truncateMiddle } from '../ops/format.js';
import type { AnyEventInput } from '../store/activity-log.js';

const DETAIL_KEYS = ['worker_type', 'running_worker_ids', 'reason', 'cause', 'error', 'progress_pct', 'status', 'pid', 'restart_count', 'outcome', 'exit_code', 'signal', 'percent', 'message', 'decision', 'delay_ms', 'resumed', 'session_id', 'why', 'source', 'reset_at', 'scope', 'by', 'until', 'where', 'file', 'path', 'sink', 'for_event'] as const;

/** A free-text value at most this long on the console; longer ones keep their start and their end (where an error's cause often is). */
const MAX_VALUE = 200;
/** A list shows this many items, then how many more. */
const MAX_ITEMS = 5;

type Data = Readonly<Record<string, unknown>>;

/** One value on one line: blanks collapsed, cut in the middle when long. */
function text(value: unknown): string {
  const raw = typeof value === 'string' ? value : Array.isArray(value) ? listText(value) : JSON.stringify(value);
  return truncateMiddle((raw ?? '').replace(/\s+/g, ' ').trim(), MAX_VALUE);
}

function listText(items: readonly unknown[]): string {
  const shown = items.slice(0, MAX_ITEMS).map((i) => (typeof i === 'string' ? i : JSON.stringify(i)));
  return items.length > MAX_ITEMS ? `${shown.join(',')} (+${items.length - MAX_ITEMS} more)` : shown.join(',');
}

const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? text(value) : null);

/** How a run ended: exit code 1, signal SIGKILL, stopped (time_limit). */
function howEnded(data: Data): string {
  const signal = str(data.signal);
  const how = signal !== null ? `signal ${signal}` : num(data.exit_code) !== null ? `exit code ${num(data.exit_code)}` : 'ended';
  const stop = str(data.stop_reason);
  const cause = str(data.cause);
  return `${how}${stop !== null ? ` (stopped: ${stop})` : ''}${cause !== null && cause !== stop ? ` [${cause}]` : ''}`;
}

/** What the daemon decided about an ended run: restart #2 in 5s, failed: why, completed, waits for the rate limit. */
function decisionText(data: Data): string | null {
  const delay = num(data.delay_ms);
  const inTime = delay === null ? '' : ` in ${formatDuration(delay / 1000)}`;
  switch (data.decision) {
    case 'restart':
      return `restart #${num(data.restart_count) ?? '?'}${inTime}`;
    case 'fail':
      return `failed${str(data.error) !== null ? `: ${str(data.error)}` : ''}`;
    case 'complete':
      return 'completed';
    case 'rate_limit_wait':
      return `rate limited: restart${inTime} (not counted as a restart)`;
    case undefined:
    case null:
      return null;
    default:
      return text(data.decision);
  }
}

/** The telling part of the events a person most needs to read at a glance; undefined: the generic key=value form. */
function summary(event: string, data: Data): string | undefined {
  switch (event) {
    case 'timeout_warning': {
      const elapsed = num(data.elapsed_seconds);
      const limit = num(data.limit_seconds);
      const ran = elapsed !== null && limit !== null ? `ran ${formatDuration(elapsed)} of its ${formatDuration(limit)} time limit` : 'time limit approaching';
      return `${ran} (${num(data.percent) ?? '?'}%)`;
    }
    case 'worker_exited': {
      const decision = decisionText(data);
      return `${howEnded(data)}${decision === null ? '' : ` -> ${decision}`}`;
    }
    case 'zombie_detected': {
      const decision = decisionText(data);
      return `${text(data.reason ?? 'zombie')}${decision === null ? '' : ` -> ${decision}`}`;
    }
    case 'alert_raised':
    case 'alert_resolved':
      return `${String(data.severity ?? '').toUpperCase()} ${text(data.type)}: ${text(data.message)}${event === 'alert_resolved' ? ' (resolved)' : ''}`;
    case 'memory_limit_exceeded': {
      const mib = (bytes: unknown): string => `${Math.round((num(bytes) ?? 0) / 1048576)} MiB`;
      const biggest = str(data.biggest_command);
      return `run uses ${mib(data.rss_bytes)} in ${num(data.processes) ?? '?'} processes, over its ${mib(data.limit_bytes)} limit${biggest === null ? '' : `; biggest: ${mib(data.biggest_rss_bytes)} ${biggest}`} -> stopped`;
    }
    case 'pm_started': {
      const adopted = num(data.adopted);
      const types = Array.isArray(data.worker_types) ? data.worker_types.length : 0;
      return `pid ${text(data.pid)}, adopted ${adopted ?? 0} running worker${adopted === 1 ? '' : 's'}, ${types} worker type${types === 1 ? '' : 's'}, a full pass every ${text(data.loop_interval_seconds)}s${data.took_over_from ? ' (took over from a dead daemon)' : ''}`;
    }
    default:
      return undefined;
  }
}

/** One line per event for a person watching the daemon in a terminal: time, event, worker, what happened. */
export function formatEventForConsole(event: AnyEventInput, now: Date = new Date()): string {
  const time = now.toISOString().slice(11, 19);
  const who = event.worker_id ?? event.task_id ?? '';
  const data: Data = event.data ?? {};
  const details =
    summary(event.event, data) ??
    DETAIL_KEYS.filter((k) => data[k] !== undefined && data[k] !== null)
      .map((k) => `${k}=${text(data[k])}`)
      .join(' ');
  return `${time}  ${event.event.padEnd(20)} ${who}${details ? `  ${details}` : ''}`;
}
