/** Compact durations for narrow columns, at most 5 characters: 45s, 12m, 2h03m, 14h, 3d04h, 12d, 56y (a clock set to 1970). */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 10 * 3600) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  if (s < 10 * 86400) return `${Math.floor(s / 86400)}d${pad(Math.floor((s % 86400) / 3600))}h`;
  if (s < 1000 * 86400) return `${Math.floor(s / 86400)}d`;
  return `${Math.min(9999, Math.floor(s / (365 * 86400)))}y`;
}

/** Whole seconds from `then` to `now` (both ms), never negative; null when `then` is unknown. */
export function ageSeconds(now: number, then: number | undefined): number | null {
  if (then === undefined) return null;
  return Math.max(0, Math.round((now - then) / 1000));
}

/** Cuts text to `width` columns with … in the middle, keeping the end (ids differ at their end: worker-impl-017). */
export function truncateMiddle(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return '…'.slice(0, width);
  const tail = Math.ceil((width - 1) * 0.6);
  const head = width - 1 - tail;
  return `${text.slice(0, head)}…${text.slice(text.length - tail)}`;
}

/** Cuts text to `width` columns with … at the end. */
export function truncateEnd(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return '…'.slice(0, width);
  return `${text.slice(0, width - 1)}…`;
}
