import type { WorkerSpec } from '../contract/worker-spec.js';
import { newRunId } from '../process/spawn.js';

/** More than this many unused tokens (a worker's stays until its next start, or until it is forgotten) and the oldest is forgotten. */
const MAX_UNUSED = 10_000;

/**
 * The launch tokens a daemon wrote into specs (their `launching_run_id`, on disk before anything runs with them), not
 * used for a run yet: a pending spec's it made from a queued task (fsynced with the spec), or the one a restart records
 * for the worker's next standby (src/worker/start.ts `nextStandby`; that standby carries it, but runs nothing until told
 * to go). A start whose spec carries one of these knows that nothing ever ran with it, so it does not look for what
 * carries it; a new spec's start writes no launch record of its own (the spec's first write was it), and a standby made
 * with its token goes before its spec is written. A token this daemon did not issue (a spec made by another daemon, or
 * one it forgot) is a launch that may have run, and is handled as one.
 */
export class FreshLaunches {
  private readonly tokens = new Map<string, string>();

  /** A new token for the spec about to be made for this worker. */
  issue(workerId: string): string {
    const token = newRunId();
    // (Set anew, the worker's token is the newest: the first in the map is the oldest.)
    this.tokens.delete(workerId);
    if (this.tokens.size >= MAX_UNUSED) this.tokens.delete(this.tokens.keys().next().value as string);
    this.tokens.set(workerId, token);
    return token;
  }

  /** Whether `token` is this worker's unused token, which stays unused. */
  has(workerId: string, token: string): boolean {
    return this.tokens.get(workerId) === token;
  }

  /** Whether `token` is this worker's unused token; it is used from now on (true once at most). */
  take(workerId: string, token: string): boolean {
    if (this.tokens.get(workerId) !== token) return false;
    this.tokens.delete(workerId);
    return true;
  }

  /** The spec was not made after all (its write failed). */
  forget(workerId: string): void {
    this.tokens.delete(workerId);
  }
}

/**
 * The launch token a spec records that `fresh` (the daemon's; a command has none) does not hold unused: a launch that
 * may have run, whose run the spec may not record. Null when the spec records none, or it is one of `fresh`'s own.
 */
export function unownedLaunch(spec: WorkerSpec, fresh: FreshLaunches | undefined): string | null {
  const launching = spec.execution?.launching_run_id;
  return typeof launching === 'string' && fresh?.has(spec.worker_id, launching) !== true ? launching : null;
}
