import { describeError } from '../errors.js';
import { readTextIfExists } from '../store/atomic.js';
import type { HomePaths } from '../store/home.js';

/**
 * pm-state.json as the operator tools read it: leniently. The daemon is its only writer and may add or
 * not yet write fields; a field that is missing or of another type is simply undefined here.
 */
export interface DaemonStateView {
  readonly pid?: number;
  readonly started_at?: string;
  readonly last_loop?: string;
  readonly loops_completed?: number;
  readonly loop_interval_seconds?: number;
  readonly last_pass_ms?: number;
}

export interface MonitoredWorkerView {
  readonly worker_id: string;
  readonly task_id?: string;
  readonly worker_type?: string;
  readonly health_state?: string;
  readonly last_checkin?: string;
  readonly checkin_count?: number;
  readonly progress_pct?: number;
  readonly restart_count?: number;
  readonly pid?: number;
  readonly status?: string;
  readonly started_at?: string;
  readonly next_restart_at?: string;
  readonly checkin_status?: string;
  readonly checkin_message?: string;
  readonly health_reason?: string;
}

export interface PmStateView {
  readonly daemon: DaemonStateView;
  readonly workers: Readonly<Record<string, MonitoredWorkerView>>;
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly configuration: Readonly<Record<string, unknown>>;
}

export type PmStateRead = { readonly state: PmStateView | undefined; readonly problem?: string };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Copies the named fields that have the wanted type; drops the rest. */
function pick<T>(source: Json, strings: readonly string[], numbers: readonly string[]): Partial<T> {
  const out: Json = {};
  for (const key of strings) {
    const value = str(source[key]);
    if (value !== undefined) out[key] = value;
  }
  for (const key of numbers) {
    const value = num(source[key]);
    if (value !== undefined) out[key] = value;
  }
  return out as Partial<T>;
}

/** Builds the lenient view from parsed JSON; undefined when it is not an object at all. */
export function toPmStateView(raw: unknown): PmStateView | undefined {
  if (!isObject(raw)) return undefined;
  const daemon = isObject(raw.pm_daemon)
    ? pick<DaemonStateView>(raw.pm_daemon, ['started_at', 'last_loop'], ['pid', 'loops_completed', 'loop_interval_seconds', 'last_pass_ms'])
    : {};
  const workers: Record<string, MonitoredWorkerView> = {};
  if (isObject(raw.monitored_workers)) {
    for (const [id, value] of Object.entries(raw.monitored_workers)) {
      if (!isObject(value)) continue;
      workers[id] = {
        ...pick<MonitoredWorkerView>(
          value,
          ['task_id', 'worker_type', 'health_state', 'last_checkin', 'status', 'started_at', 'next_restart_at', 'checkin_status', 'checkin_message', 'health_reason'],
          ['checkin_count', 'progress_pct', 'restart_count', 'pid'],
        ),
        worker_id: id,
      };
    }
  }
  return {
    daemon,
    workers,
    metrics: isObject(raw.metrics) ? raw.metrics : {},
    configuration: isObject(raw.configuration) ? raw.configuration : {},
  };
}

/** Reads pm-state.json; missing is `state: undefined`, unreadable is `state: undefined` with the problem. */
export function readPmStateView(paths: HomePaths): PmStateRead {
  let text: string | undefined;
  try {
    text = readTextIfExists(paths.pmState);
  } catch (error) {
    return { state: undefined, problem: describeError(error) };
  }
  if (text === undefined) return { state: undefined };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { state: undefined, problem: `${paths.pmState}: not valid JSON (${describeError(error)})` };
  }
  const state = toPmStateView(raw);
  return state === undefined ? { state, problem: `${paths.pmState}: not a JSON object` } : { state };
}

/** An ISO timestamp as epoch ms, or undefined when absent or not a date. */
export function parseTime(iso: string | null | undefined): number | undefined {
  if (iso === undefined || iso === null) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}
