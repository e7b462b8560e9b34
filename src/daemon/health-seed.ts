import type { HealthState } from '../contract/pm-state.js';
import { readPmStateView } from '../ops/pm-state-view.js';
import type { HomePaths } from '../store/home.js';

export interface HealthSeed {
  readonly health: HealthState;
  readonly pid: number | null;
}

/**
 * Each worker's health as the last daemon last saw it (pm-state.json), with the pid it saw: a worker still
 * late or stalled, in the same run, when the next daemon starts is not logged late or stalled again.
 */
export function healthAtLastStop(paths: HomePaths): ReadonlyMap<string, HealthSeed> {
  const seeds = new Map<string, HealthSeed>();
  const { state } = readPmStateView(paths);
  if (state === undefined) return seeds;
  for (const [id, worker] of Object.entries(state.workers)) {
    const health = worker.health_state as HealthState | undefined;
    if (typeof health !== 'string') continue;
    seeds.set(id, { health, pid: typeof worker.pid === 'number' ? worker.pid : null });
  }
  return seeds;
}
