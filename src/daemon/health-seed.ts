import type { HealthState } from '../contract/pm-state.js';
import { readPmStateView } from '../ops/pm-state-view.js';
import type { HomePaths } from '../store/home.js';
import type { Observer, ObservedWorker } from './observer.js';

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

/** At the first pass: each worker still in the run the last daemon saw starts from the health it saw. */
export function seedHealth(observer: Observer, seeds: ReadonlyMap<string, HealthSeed>, workers: readonly ObservedWorker[]): void {
  for (const w of workers) {
    const seed = seeds.get(w.spec.worker_id);
    if (seed !== undefined && seed.pid === (w.spec.execution?.pid ?? null)) observer.setHealth(w.spec.worker_id, seed.health);
  }
}
