import type { WorkerTypes } from '../config/load.js';
import { WORKER_TYPE_DEFAULTS } from '../contract/worker-types.js';
import type { EventInput } from '../store/activity-log.js';
import type { HomePaths } from '../store/home.js';

/** What the lifecycle operations need; the CLI builds one per command, the daemon one per home. */
export interface LifecycleContext {
  readonly paths: HomePaths;
  readonly workerTypes: WorkerTypes;
  /** The clock, ms since the epoch (default Date.now). */
  readonly now?: () => number;
  /** The environment workers inherit before their own variables (default process.env). */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /** Where lifecycle events go (the daemon logs and prints them too); default: appended to pm-activity.jsonl. */
  readonly emit?: (events: readonly EventInput[]) => void;
}

/** What emitting events and settling a finished worker need: no worker types. */
export type SettleContext = Pick<LifecycleContext, 'paths' | 'now' | 'emit'>;

export const clock = (ctx: SettleContext): number => (ctx.now ?? Date.now)();

/** The stop grace of a worker type in ms; the default when the type is unknown, so a worker can always be stopped. */
export function stopGraceMs(ctx: LifecycleContext, typeName: string): number {
  const type = ctx.workerTypes.types[typeName];
  return (type?.stop_grace_seconds ?? WORKER_TYPE_DEFAULTS.stop_grace_seconds) * 1000;
}
