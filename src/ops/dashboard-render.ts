import { describePauses } from './dispatch-pauses-view.js';
import type { AlertRow, DashboardModel, RecentRow, WorkerRow } from './dashboard-model.js';
import { formatDuration, truncateEnd, truncateMiddle } from './format.js';

export interface RenderOptions {
  /** Columns available; every line fits (default 80). Ignored when `wide`. */
  readonly width?: number;
  /**
   * Not for a terminal (stdout is a pipe or a file): nothing is cut to a width, ids and descriptions are
   * whole and every column is shown, so that grep and a person's wide editor see everything.
   */
  readonly wide?: boolean;
  /** ANSI colours (the caller decides: a TTY and no NO_COLOR). */
  readonly color?: boolean;
  /** At most this many worker rows (the most troubled); the rest are counted. */
  readonly maxRows?: number;
}

type Paint = (text: string, ...codes: number[]) => string;
const ANSI = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, magenta: 35, cyan: 36 } as const;

const HEALTH_COLORS: Record<string, number[]> = {
  zombie: [ANSI.bold, ANSI.red],
  stalled: [ANSI.red],
  late: [ANSI.yellow],
  blocked: [ANSI.bold, ANSI.yellow],
  backoff: [ANSI.yellow],
  exited: [ANSI.magenta],
  starting: [ANSI.cyan],
  healthy: [ANSI.green],
};
const SEVERITY_LABEL: Record<string, { text: string; codes: number[] }> = {
  critical: { text: 'CRIT', codes: [ANSI.bold, ANSI.red] },
  warning: { text: 'WARN', codes: [ANSI.yellow] },
  info: { text: 'INFO', codes: [ANSI.cyan] },
};

const LABEL_WIDTH = 9;
const label = (text: string): string => text.padEnd(LABEL_WIDTH);

interface Column {
  readonly title: string;
  readonly width: number;
  readonly right?: boolean;
  /** In a narrow terminal, columns are dropped lowest first until the id and the task fit; never when absent. */
  readonly drop?: number;
  readonly cell: (row: WorkerRow) => string;
}

/** Resident memory in a few columns: 512M, 1.5G, 123G. */
export function formatMemory(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes)) return '-';
  const mib = bytes / 1048576;
  if (mib < 1000) return `${Math.round(mib)}M`;
  const gib = mib / 1024;
  return gib < 10 ? `${gib.toFixed(1)}G` : `${Math.round(gib)}G`;
}

/** Every column but the id and the task, whose widths are what is left of the line. */
const COLUMNS: readonly Column[] = [
  { title: 'TYPE', width: 8, drop: 9, cell: (r) => r.worker_type },
  // A worker held by an operator says so: "stopped" (or "failing" while fail-worker works), not its spec status; one whose process is gone, "exited".
  { title: 'STATUS', width: 7, cell: (r) => (r.stopped ? (r.stopped_reason?.startsWith('being failed') === true ? 'failing' : 'stopped') : r.liveness === 'gone' ? 'exited' : r.status) },
  { title: 'HEALTH', width: 8, cell: (r) => r.health_state ?? '-' },
  { title: 'PID', width: 7, right: true, drop: 3, cell: (r) => (r.pid === null ? '-' : String(r.pid)) },
  { title: 'UP', width: 5, right: true, drop: 4, cell: (r) => formatDuration(r.uptime_seconds) },
  { title: 'RST', width: 3, right: true, drop: 5, cell: (r) => String(r.restarts) },
  { title: 'CHKIN', width: 5, right: true, drop: 7, cell: (r) => formatDuration(r.last_checkin_age_seconds) },
  { title: 'PROG', width: 4, right: true, drop: 6, cell: (r) => (r.progress_pct === null ? '-' : `${Math.round(r.progress_pct)}%`) },
  { title: 'NEXT', width: 5, right: true, drop: 8, cell: (r) => formatDuration(r.next_restart_in_seconds) },
  { title: 'CPU', width: 4, right: true, drop: 2, cell: (r) => (r.cpu_percent === null ? '-' : `${Math.round(r.cpu_percent)}%`) },
  { title: 'MEM', width: 5, right: true, drop: 1, cell: (r) => formatMemory(r.rss_bytes) },
];
const MIN_ID_WIDTH = 12;
/** The task's description gets at least this much of a terminal line, or no column at all. */
const MIN_TASK_WIDTH = 16;

const fit = (text: string, width: number, right = false): string => {
  const cut = truncateEnd(text, width);
  return right ? cut.padStart(width) : cut.padEnd(width);
};

/** A description on one line: its line breaks and runs of blanks as single spaces. */
const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** Joins parts with two spaces, dropping trailing parts that would not fit. */
function fitParts(parts: readonly string[], width: number): string {
  let line = '';
  for (const part of parts) {
    const next = line === '' ? part : `${line}  ${part}`;
    if (next.length > width) break;
    line = next;
  }
  return line === '' ? truncateEnd(parts[0] ?? '', width) : line;
}

/** Wraps comma-separated items under a label, continuing lines indented under the first item. */
function wrapItems(head: string, items: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = head;
  let first = true;
  for (const item of items) {
    const piece = first ? item : `, ${item}`;
    if (!first && line.length + piece.length > width) {
      lines.push(`${line},`);
      line = ' '.repeat(LABEL_WIDTH) + item;
    } else {
      line += piece;
    }
    first = false;
  }
  lines.push(truncateEnd(line, width));
  return lines.map((l) => truncateEnd(l, width));
}

function daemonLines(model: DashboardModel, width: number, paint: Paint): string[] {
  const d = model.daemon;
  const state = d.running
    ? d.state === 'healthy'
      ? 'running'
      : d.state === 'starting'
        ? 'starting'
        : d.state === 'config_invalid'
          ? 'running, config invalid'
          : d.state === 'redis_unavailable'
            ? 'running, redis unavailable'
            : d.state === 'pid_file_missing'
              ? 'running, pid file missing'
              : 'running, passes stopped'
    : 'stopped';
  const color = d.state === 'healthy' ? ANSI.green : d.running ? ANSI.yellow : ANSI.red;
  const parts = [state];
  if (d.running) {
    parts.push(`pid ${d.pid ?? '-'}`, `up ${formatDuration(d.uptime_seconds)}`);
    parts.push(`last pass ${d.last_pass_age_seconds === null ? '-' : `${formatDuration(d.last_pass_age_seconds)} ago`}`);
    parts.push(`passes ${d.passes ?? '-'}`);
    if (d.loop_interval_seconds !== null) parts.push(`loop ${d.loop_interval_seconds}s`);
    if (d.queue !== undefined) parts.push(`host ${d.queue.host_id ?? '?'} of queue ${d.queue.name ?? '?'} (${d.queue.leases ?? 0} leases)`);
  }
  const line = fitParts(parts, width - LABEL_WIDTH);
  const lines = [label('daemon') + paint(line.slice(0, state.length), ANSI.bold, color) + line.slice(state.length)];
  if (!d.ok && d.state !== 'config_invalid') lines.push(' '.repeat(LABEL_WIDTH) + truncateEnd(d.message, width - LABEL_WIDTH));
  return lines;
}

/** worker-types.json: shown only when something is wrong with it (it does not load, or workers name types it no longer has). */
function configLines(model: DashboardModel, width: number, paint: Paint): string[] {
  const f = model.daemon.worker_types_file;
  if (f === null) return [];
  const lines: string[] = [];
  const indent = ' '.repeat(LABEL_WIDTH);
  if (f.status === 'invalid') {
    const since = f.invalid_since === null ? '' : ` since ${f.invalid_since}`;
    const inForce = f.loaded_at === null ? 'the last good version' : `the last good version (loaded ${f.loaded_at})`;
    const text = `worker-types.json INVALID${since}: ${f.error ?? 'unknown error'}; ${inForce} stays in force until it is fixed`;
    wrapText(text, width - LABEL_WIDTH, 3).forEach((line, i) => lines.push((i === 0 ? label('config') : indent) + paint(line, ANSI.red)));
  }
  if (f.removed_types.length > 0) {
    const text = `worker types no longer in worker-types.json, their workers supervised under the limits they started with and not restarted: ${f.removed_types.join(', ')}`;
    wrapText(text, width - LABEL_WIDTH, 2).forEach((line, i) => lines.push((i === 0 && lines.length === 0 ? label('config') : indent) + paint(line, ANSI.yellow)));
  }
  return lines;
}

function totalsLines(model: DashboardModel, width: number, paint: Paint): string[] {
  const t = model.totals;
  const queue = model.queue_depth === null ? 'queue ?' : `queue ${model.queue_depth} queued`;
  const stopped = t.by_status.stopped ?? 0;
  const exited = t.by_status.exited ?? 0;
  const counts = `${t.workers} active (${t.by_status.running ?? 0} running, ${t.by_status.pending ?? 0} pending${stopped > 0 ? `, ${stopped} stopped` : ''}${exited > 0 ? `, ${exited} exited` : ''})`;
  const lines = [label('workers') + fitParts([counts, queue], width - LABEL_WIDTH)];
  const pauses = model.dispatch_pauses ?? [];
  if (pauses.length > 0) {
    wrapText(`${describePauses(pauses)}: no starts or restarts there; running workers go on`, width - LABEL_WIDTH, 3).forEach((line, i) => lines.push((i === 0 ? label('dispatch') : ' '.repeat(LABEL_WIDTH)) + paint(line, ANSI.yellow)));
  }
  const states = ['zombie', 'stalled', 'blocked', 'late', 'backoff', 'exited', 'starting', 'unseen', 'healthy'].filter((s) => (t.by_health[s] ?? 0) > 0);
  if (states.length > 0) {
    const plain = wrapItems(label('health'), states.map((s) => `${t.by_health[s]} ${s}`), width);
    // Colour each "N state" after wrapping, so widths are counted on the plain text.
    lines.push(...plain.map((l) => l.replace(/(\d+) ([a-z]+)/g, (whole, _n: string, s: string) => (HEALTH_COLORS[s] ? paint(whole, ...(HEALTH_COLORS[s] ?? [])) : whole))));
  }
  return lines;
}

/** Word-wraps text to `width`, at most `maxLines` lines (the last cut with …). */
function wrapText(text: string, width: number, maxLines: number): string[] {
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width && lines.length < maxLines - 1) {
    const space = rest.lastIndexOf(' ', width);
    const cut = space > width / 3 ? space : width;
    lines.push(rest.slice(0, cut));
    rest = rest.slice(cut).trimStart();
  }
  lines.push(truncateEnd(rest, width));
  return lines;
}

function alertLines(alerts: readonly AlertRow[], width: number, paint: Paint): string[] {
  if (alerts.length === 0) return [label('alerts') + 'none active'];
  const indent = LABEL_WIDTH + 5;
  return alerts.flatMap((a, i) => {
    const sev = SEVERITY_LABEL[a.severity] ?? { text: a.severity.slice(0, 4).toUpperCase().padEnd(4), codes: [] };
    const since = a.age_seconds === null ? '' : ` (for ${formatDuration(a.age_seconds)})`;
    const [first = '', ...more] = wrapText(`${a.type}: ${a.message}${since}`, width - indent, 2);
    return [
      (i === 0 ? label('alerts') : ' '.repeat(LABEL_WIDTH)) + paint(sev.text, ...sev.codes) + ' ' + first,
      ...more.map((line) => ' '.repeat(indent) + line),
    ];
  });
}

interface Layout {
  readonly columns: readonly Column[];
  readonly idWidth: number;
  /** 0: no task column. */
  readonly taskWidth: number;
}

/**
 * Which columns a terminal of `width` shows, and how wide the id and the task are: the id whole if it
 * fits beside MIN_TASK_WIDTH of task, else cut; columns dropped (lowest `drop` first) until id and task fit,
 * and CPU and MEM also when that makes the whole id fit.
 */
function layoutFor(rows: readonly WorkerRow[], width: number): Layout {
  const longest = Math.max(...rows.map((r) => r.worker_id.length), 'WORKER'.length);
  let columns = [...COLUMNS];
  const rest = (): number => width - columns.reduce((sum, c) => sum + c.width + 1, 0);
  const droppable = (): Column[] => columns.filter((c) => c.drop !== undefined).sort((a, b) => (a.drop ?? 0) - (b.drop ?? 0));
  while (rest() < Math.min(longest, MIN_ID_WIDTH) + 1 + MIN_TASK_WIDTH && droppable().length > 0) {
    const gone = droppable()[0];
    columns = columns.filter((c) => c !== gone);
  }
  // Resources (the lowest) also give way to a whole id.
  while (longest + 1 + MIN_TASK_WIDTH > rest() && (droppable()[0]?.drop ?? Infinity) <= 2) {
    const gone = droppable()[0];
    columns = columns.filter((c) => c !== gone);
  }
  const room = rest();
  if (room < Math.min(longest, MIN_ID_WIDTH) + 1 + MIN_TASK_WIDTH) return { columns, idWidth: Math.max(6, Math.min(longest, room)), taskWidth: 0 };
  const idWidth = longest + 1 + MIN_TASK_WIDTH <= room ? longest : Math.max(MIN_ID_WIDTH, room - 1 - MIN_TASK_WIDTH);
  return { columns, idWidth, taskWidth: room - idWidth - 1 };
}

function tableLines(rows: readonly WorkerRow[], width: number, wide: boolean, paint: Paint, maxRows: number | undefined): string[] {
  if (rows.length === 0) return ['no active workers'];
  const layout: Layout = wide ? { columns: COLUMNS, idWidth: Math.max(...rows.map((r) => r.worker_id.length), 'WORKER'.length), taskWidth: Infinity } : layoutFor(rows, width);
  // Wide, a column is as wide as its widest cell; in a terminal, cells are cut to the column.
  const widthOf = (c: Column): number => (wide ? Math.max(c.width, c.title.length, ...rows.map((r) => c.cell(r).length)) : c.width);
  const widths = new Map(layout.columns.map((c) => [c, widthOf(c)]));
  const cellFit = (text: string, w: number, right?: boolean): string => (wide ? (right ? text.padStart(w) : text.padEnd(w)) : fit(text, w, right));
  const task = (text: string): string[] => (layout.taskWidth === 0 ? [] : [wide ? text : truncateEnd(text, layout.taskWidth)]);
  const header = [cellFit('WORKER', layout.idWidth), ...layout.columns.map((c) => cellFit(c.title, widths.get(c) ?? c.width, c.right)), ...task('TASK')].join(' ');
  const shown = maxRows === undefined ? rows : rows.slice(0, Math.max(0, maxRows));
  const lines = [paint(wide ? header.trimEnd() : truncateEnd(header, width), ANSI.bold)];
  for (const row of shown) {
    const cells = [cellFit(wide ? row.worker_id : truncateMiddle(row.worker_id, layout.idWidth), layout.idWidth)];
    for (const column of layout.columns) {
      const text = cellFit(column.cell(row), widths.get(column) ?? column.width, column.right);
      cells.push(column.title === 'HEALTH' && row.health_state !== null ? paint(text, ...(HEALTH_COLORS[row.health_state] ?? [])) : text);
    }
    cells.push(...task(oneLine(row.description)));
    lines.push(cells.join(' ').trimEnd());
  }
  if (shown.length < rows.length) lines.push(paint(`… ${rows.length - shown.length} more workers (listed most troubled first)`, ANSI.dim));
  return lines;
}

/** The workers that ended lately, one line each: how and when, the id, and the task. */
function recentLines(recent: readonly RecentRow[], width: number, wide: boolean, paint: Paint): string[] {
  if (recent.length === 0) return [];
  const idWidth = Math.max(...recent.map((r) => r.worker_id.length));
  return recent.map((r, i) => {
    const outcome = r.status === 'failed' ? (r.error ?? (r.signal === null ? `exit ${r.exit_code ?? '?'}` : r.signal)) : `exit ${r.exit_code ?? 0}`;
    const when = r.ended_age_seconds === null ? '' : `${formatDuration(r.ended_age_seconds)} ago`;
    const status = r.status.padEnd(9);
    const id = wide ? r.worker_id.padEnd(idWidth) : fit(truncateMiddle(r.worker_id, Math.min(idWidth, 30)), Math.min(idWidth, 30));
    const text = `${status} ${id}  ${when.padStart(8)}  ${oneLine(outcome)}: ${oneLine(r.description)}`;
    const line = (i === 0 ? label('recent') : ' '.repeat(LABEL_WIDTH)) + (wide ? text : truncateEnd(text, width - LABEL_WIDTH));
    return line.replace(status, paint(status, r.status === 'failed' ? ANSI.red : ANSI.green));
  });
}

const MAX_PROBLEMS = 5;

/** The status dashboard as text. Pure: every line fits `width` columns (ANSI codes aside). */
export function renderDashboard(model: DashboardModel, options: RenderOptions = {}): string {
  const wide = options.wide === true;
  // Wide, no line is cut: the width is as good as endless.
  const width = wide ? Number.MAX_SAFE_INTEGER : Math.max(40, options.width ?? 80);
  const paint: Paint = options.color ? (text, ...codes) => (codes.length === 0 ? text : `\u001b[${codes.join(';')}m${text}\u001b[0m`) : (text) => text;
  const time = model.generated_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const title = 'commit-relay';
  const homeWidth = width - title.length - time.length - 4;
  const home = truncateMiddle(model.home, Math.max(0, homeWidth));
  const lines: string[] = [];
  lines.push(`${paint(title, ANSI.bold)}  ${home}${' '.repeat(wide ? 2 : Math.max(2, width - title.length - 2 - home.length - time.length))}${time}`);
  lines.push(...daemonLines(model, width, paint));
  lines.push(...configLines(model, width, paint));
  lines.push(...totalsLines(model, width, paint));
  lines.push(...alertLines(model.alerts, width, paint));
  lines.push('');
  lines.push(...tableLines(model.workers, width, wide, paint, options.maxRows));
  if (model.health_stale && model.workers.length > 0) {
    const checked = model.liveness_checked ? '; processes checked now' : '';
    lines.push(paint(truncateEnd(`health as the daemon last saw it (not running)${checked}`, width), ANSI.dim));
  }
  const recent = recentLines(model.recent, width, wide, paint);
  if (recent.length > 0) lines.push('', ...recent);
  for (const problem of model.problems.slice(0, MAX_PROBLEMS)) lines.push(paint(truncateEnd(`! ${problem}`, width), ANSI.yellow));
  if (model.problems.length > MAX_PROBLEMS) lines.push(truncateEnd(`! … ${model.problems.length - MAX_PROBLEMS} more problems (scripts/validate.sh lists them all)`, width));
  return `${lines.join('\n')}\n`;
}

/** How many lines the dashboard uses besides the worker rows, to size --watch to the terminal. */
export function renderedOverhead(model: DashboardModel, width = 80): number {
  return renderDashboard({ ...model, workers: [] }, { width }).split('\n').length + 2;
}
