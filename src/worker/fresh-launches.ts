import { newRunId } from '../process/spawn.js';

/** More than this many unused tokens (specs made but never started by this daemon) and they are all forgotten. */
const MAX_UNUSED = 10_000;

/**
 * The launch tokens a daemon wrote into the pending specs it made from queued tasks (their `launching_run_id`, on disk,
 * fsynced with the spec, before anything runs), not used for a spawn yet. A start whose spec carries one of these knows
 * that nothing ever ran with it, so it neither looks for what carries it nor writes a launch record of its own: the
 * spec's first write was its launch record. A token this daemon did not issue (a spec made by another daemon, or one it
 * forgot) is a launch that may have run, and is handled as one (src/worker/start.ts).
 */
export class FreshLaunches {
  private readonly tokens = new Map<string, string>();

  /** A new token for the spec about to be made for this worker. */
  issue(workerId: string): string {
    if (this.tokens.size >= MAX_UNUSED) this.tokens.clear();
    const token = newRunId();
    this.tokens.set(workerId, token);
    return token;
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
