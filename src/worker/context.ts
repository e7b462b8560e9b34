import type { WorkerTypes } from '../config/load.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import { WORKER_TYPE_DEFAULTS } from '../contract/worker-types.js';
import { recordedTypeLimits } from '../core/limits.js';
import type { EventInput } from '../store/activity-log.js';
import type { HomePaths } from '../store/home.js';
import type { Launcher } from '../process/launcher.js';
import type { Standbys } from './standbys.js';
import type { FreshLaunches } from './fresh-launches.js';

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
  /** The daemon's standbys (worker/standbys.ts): a start takes the worker's, if it fits, instead of spawning. */
  readonly standbys?: Standbys;
  /** The daemon's launcher (process/launcher.ts): starts fork there, not here (without one, or when perl is missing, here). */
  readonly launcher?: Launcher;
  /** The launch tokens the daemon wrote into the specs it made, unused yet (worker/fresh-launches.ts). */
  readonly freshLaunches?: FreshLaunches;
  /**
   * This process stays to hear the ends of the shims it starts (the daemon): they leave their exit records for it to
   * rename into place (process/spawn.ts, worker-shim.sh). Not for a command, which exits after its start: a shim that
   * ended before it would leave its record at a temp name for the next reader.
   */
  readonly reapsExitRecords?: boolean;
}

/** What emitting events and settling a finished worker need: no worker types. */
export type SettleContext = Pick<LifecycleContext, 'paths' | 'now' | 'emit' | 'freshLaunches'>;

export const clock = (ctx: SettleContext): number => (ctx.now ?? Date.now)();

/**
 * A worker's stop grace in ms: its type's; for a type no longer in worker-types.json, the one its run
 * started with (`execution.type_limits`); else the default, so a worker can always be stopped.
 */
export function stopGraceMs(ctx: LifecycleContext, spec: WorkerSpec | undefined): number {
  const type = spec === undefined ? undefined : ctx.workerTypes.types[spec.worker_type];
  const recorded = recordedTypeLimits(spec?.execution?.type_limits);
  return (type?.stop_grace_seconds ?? recorded?.stop_grace_seconds ?? WORKER_TYPE_DEFAULTS.stop_grace_seconds) * 1000;
}
