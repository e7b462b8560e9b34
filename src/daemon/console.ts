import type { EventInput } from '../store/activity-log.js';

const DETAIL_KEYS = ['worker_type', 'running_worker_ids', 'reason', 'cause', 'error', 'progress_pct', 'status', 'pid', 'restart_count', 'outcome', 'exit_code', 'signal', 'percent', 'message', 'decision', 'delay_ms', 'resumed', 'session_id', 'why', 'source', 'reset_at', 'scope', 'by', 'until'] as const;

/** One line per event for a person watching the daemon in a terminal: time, event, worker, the telling fields. */
export function formatEventForConsole(event: EventInput, now: Date = new Date()): string {
  const time = now.toISOString().slice(11, 19);
  const who = event.worker_id ?? event.task_id ?? '';
  const data = event.data ?? {};
  const details = DETAIL_KEYS.filter((k) => data[k] !== undefined && data[k] !== null)
    .map((k) => `${k}=${typeof data[k] === 'string' ? data[k] : JSON.stringify(data[k])}`)
    .join(' ');
  return `${time}  ${event.event.padEnd(20)} ${who}${details ? `  ${details}` : ''}`.slice(0, 240);
}
