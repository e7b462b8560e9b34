import { z } from 'zod';
import { pmStateViewSchema, type MonitoredWorkerView, type PmDaemonView } from '../contract/pm-state.js';
import { describeError } from '../errors.js';
import { readTextIfExists } from '../store/atomic.js';
import type { HomePaths } from '../store/home.js';

/**
 * pm-state.json as the operator tools read it: leniently, through the contract's view schema. The daemon
 * is its only writer and may add or not yet write fields; a field that is missing or of another type is
 * simply undefined here.
 */
export type DaemonStateView = Readonly<PmDaemonView>;
export type { MonitoredWorkerView };

/**
 * A running worker's resources as the daemon last sampled them (`monitored_workers.<id>.resources`, its
 * whole run: every process with its token). Optional: a daemon that does not sample writes none, and a
 * field of another type reads as absent.
 */
const resourcesViewSchema = z.object({
  cpu_percent: z.number().nullable().catch(null),
  rss_bytes: z.number(),
  processes: z.number().optional().catch(undefined),
  sampled_at: z.string().optional().catch(undefined),
});
export type ResourcesView = z.infer<typeof resourcesViewSchema>;
export type WorkerView = Readonly<MonitoredWorkerView> & { readonly resources?: ResourcesView | undefined };

/** The `resources` of a monitored worker's raw entry, or undefined when absent or not readable. */
function resourcesOf(entry: unknown): ResourcesView | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const parsed = resourcesViewSchema.safeParse((entry as { resources?: unknown }).resources);
  return parsed.success ? parsed.data : undefined;
}

export interface PmStateView {
  readonly daemon: DaemonStateView;
  readonly workers: Readonly<Record<string, WorkerView>>;
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly configuration: Readonly<Record<string, unknown>>;
  /** Where tasks are queued (absent from an older daemon); with redis, this host's place in the fleet. */
  readonly queue?: { readonly backend?: string | undefined; readonly name?: string | undefined; readonly host_id?: string | undefined; readonly redis?: string | undefined; readonly leases?: number | undefined } | undefined;
}

export type PmStateRead = { readonly state: PmStateView | undefined; readonly problem?: string };

/** Builds the lenient view from parsed JSON; undefined when it is not an object at all. */
export function toPmStateView(raw: unknown): PmStateView | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const parsed = pmStateViewSchema.parse(raw);
  const workers: Record<string, WorkerView> = {};
  const rawWorkers = (raw as { monitored_workers?: unknown }).monitored_workers;
  for (const [id, worker] of Object.entries(parsed.monitored_workers)) {
    if (worker === undefined) continue;
    const resources = typeof rawWorkers === 'object' && rawWorkers !== null ? resourcesOf((rawWorkers as Record<string, unknown>)[id]) : undefined;
    workers[id] = { ...worker, worker_id: id, ...(resources === undefined ? {} : { resources }) };
  }
  return { daemon: parsed.pm_daemon, workers, metrics: parsed.metrics, configuration: parsed.configuration, queue: parsed.queue };
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
