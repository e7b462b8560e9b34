import type { FleetHost, FleetView, FleetWorker, HostState } from '../fleet/hosts.js';
import { oneLine } from '../contract/parse.js';
import { formatDuration, truncateMiddle } from './format.js';

export interface FleetRenderOptions {
  /** ANSI colours (the caller decides: a TTY and no NO_COLOR). */
  readonly color?: boolean;
  /** On a terminal: ids longer than their column's cap are cut in the middle. Off a terminal nothing is cut. */
  readonly capIds?: boolean;
}

type Paint = (text: string, ...codes: number[]) => string;
const ANSI = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33 } as const;
const STATE_COLORS: Record<HostState, number[]> = { alive: [ANSI.green], lost: [ANSI.bold, ANSI.red], stopped: [ANSI.dim] };

// C1 controls (a lone \u009b is a CSI on many terminals) and bidi overrides, on top of what oneLine escapes.
const MORE_UNSAFE = /[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** Text from another host (ids, statuses, messages) made one safe line: control characters escaped, never sent raw. */
export const printable = (text: string): string => oneLine(text).replace(MORE_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

interface Column<R> {
  readonly title: string;
  readonly cell: (row: R) => string;
  readonly right?: boolean;
  /** With capIds, the widest this column gets. */
  readonly cap?: number;
  readonly paint?: (row: R, text: string, paint: Paint) => string;
}

const HOST_COLUMNS: readonly Column<FleetHost>[] = [
  { title: 'HOST', cell: (h) => h.host_id, cap: 24 },
  { title: 'STATE', cell: (h) => h.state, paint: (h, text, paint) => paint(text, ...STATE_COLORS[h.state]) },
  { title: 'LAST SEEN', cell: (h) => `${formatDuration(h.seconds_since_seen)} ago`, right: true },
  { title: 'SLOTS', cell: (h) => `${h.slots_used}/${h.max_concurrent_workers}`, right: true },
  { title: 'WORKERS', cell: (h) => String(h.workers), right: true },
  { title: 'LEASES', cell: (h) => String(h.leases), right: true },
  { title: 'DISPATCH', cell: (h) => (h.dispatch_paused ? 'paused' : 'on') },
  { title: 'PID', cell: (h) => String(h.pid), right: true },
];

const WORKER_COLUMNS: readonly Column<FleetWorker>[] = [
  { title: 'HOST', cell: (w) => w.host_id, cap: 24 },
  { title: 'WORKER', cell: (w) => w.worker_id, cap: 28 },
  { title: 'TASK', cell: (w) => w.task_id ?? '-', cap: 24 },
  { title: 'TYPE', cell: (w) => w.worker_type, cap: 12 },
  { title: 'STATUS', cell: (w) => w.status, cap: 10 },
  { title: 'HEALTH', cell: (w) => w.health ?? '-', cap: 10 },
  { title: 'PID', cell: (w) => (w.pid === null ? '-' : String(w.pid)), right: true },
  { title: 'RESTARTS', cell: (w) => String(w.restart_count), right: true },
];

function table<R>(columns: readonly Column<R>[], rows: readonly R[], paint: Paint, capIds: boolean, note?: (row: R) => string | undefined): string[] {
  const cells = rows.map((row) => columns.map((c) => printable(c.cell(row))).map((text, i) => (capIds && columns[i]?.cap !== undefined ? truncateMiddle(text, columns[i]?.cap ?? text.length) : text)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const pad = (text: string, i: number): string => (columns[i]?.right === true ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0));
  const lines = [paint(columns.map((c, i) => pad(c.title, i)).join('  ').trimEnd(), ANSI.bold)];
  rows.forEach((row, r) => {
    const line = columns
      .map((c, i) => {
        const text = pad(cells[r]?.[i] ?? '', i);
        return c.paint === undefined ? text : c.paint(row, text, paint);
      })
      .join('  ');
    const extra = note?.(row);
    lines.push(extra === undefined ? line.trimEnd() : `${line}  ${extra}`);
  });
  return lines;
}

/** The fleet view as text: the hosts, the queue, every host's workers. Pure. */
export function renderFleet(view: FleetView, options: FleetRenderOptions = {}): string {
  const paint: Paint = options.color ? (text, ...codes) => (codes.length === 0 ? text : `\u001b[${codes.join(';')}m${text}\u001b[0m`) : (text) => text;
  const capIds = options.capIds ?? false;
  const time = view.generated_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const byState = (state: HostState): number => view.hosts.filter((h) => h.state === state).length;
  const lines: string[] = [];
  lines.push(`${paint('commit-relay fleet', ANSI.bold)}  ${time}`);
  const q = view.queue;
  const queueState = q.paused ? paint('paused', ANSI.bold, ANSI.yellow) : 'running';
  lines.push(`queue    ${printable(q.name)} ${queueState}  waiting ${q.waiting}  active ${q.active}  delayed ${q.delayed}  failed ${q.failed}  completed ${q.completed}`);
  lines.push(`hosts    ${view.hosts.length} (${byState('alive')} alive, ${byState('lost')} lost, ${byState('stopped')} stopped)`);
  lines.push('');
  if (view.hosts.length === 0) lines.push('no hosts have published (is a daemon running with the redis backend?)');
  else lines.push(...table(HOST_COLUMNS, view.hosts, paint, capIds, (h) => (h.state === 'lost' ? paint(`LOST: no heartbeat for ${formatDuration(h.seconds_since_seen)}`, ANSI.red) : undefined)));
  lines.push('');
  if (view.workers.length === 0) lines.push('no workers');
  else
    lines.push(
      ...table(WORKER_COLUMNS, view.workers, paint, capIds, (w) =>
        w.host_state === 'lost' ? paint('host lost: as last reported', ANSI.red) : w.host_state === 'stopped' ? paint('host stopped: as last reported', ANSI.dim) : undefined,
      ),
    );
  for (const problem of view.problems) lines.push(paint(`! ${printable(problem)}`, ANSI.yellow));
  return `${lines.join('\n')}\n`;
}
