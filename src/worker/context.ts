import type { WorkerTypes } from '../config/load.js';
import { WORKER_TYPE_DEFAULTS } from '../contract/worker-types.js';
import type { HomePaths } from '../store/home.js';

/** What the lifecycle operations need; the CLI builds one per command, the daemon one per home. */
export interface LifecycleContext {
  readonly paths: HomePaths;
  readonly workerTypes: WorkerTypes;
  /** The clock, ms since the epoch (default Date.now). */
  readonly now?: () => number;
  /** The environment workers inherit before their own variables (default process.env). */
  readonly baseEnv?: NodeJS.ProcessEnv;
}

export const clock = (ctx: LifecycleContext): number => (ctx.now ?? Date.now)();

/** The stop grace of a worker type in ms; the default when the type is unknown, so a worker can always be stopped. */
export function stopGraceMs(ctx: LifecycleContext, typeName: string): number {
  const type = ctx.workerTypes.types[typeName];
  return (type?.stop_grace_seconds ?? WORKER_TYPE_DEFAULTS.stop_grace_seconds) * 1000;
}
