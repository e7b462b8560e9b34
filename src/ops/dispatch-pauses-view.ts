import { pauseInForce, pauseScope } from '../contract/dispatch-pauses.js';
import { describeError } from '../errors.js';
import { readDispatchPauses } from '../store/dispatch-pauses.js';
import type { HomePaths } from '../store/home.js';

/** One dispatch pause in force, as the operator tools show it. */
export interface PauseRow {
  readonly scope: string;
  readonly reason: string | null;
  readonly until: string | null;
  readonly by: string;
}

/** The pauses of dispatch-pauses.json in force at `now` (the file is the truth, with or without a daemon). Never writes. */
export function readPausesInForce(paths: HomePaths, now: number): { pauses: PauseRow[]; problem?: string } {
  try {
    const file = readDispatchPauses(paths);
    return { pauses: file.pauses.filter((p) => pauseInForce(p, now)).map((p) => ({ scope: pauseScope(p), reason: p.reason, until: p.until, by: p.by })) };
  } catch (error) {
    return { pauses: [], problem: describeError(error) };
  }
}

/** "dispatch paused: all until 2026-11-30T10:00:00.000Z (maintenance); ..." */
export function describePauses(pauses: readonly PauseRow[]): string {
  return `dispatch paused: ${pauses.map((p) => `${p.scope}${p.until === null ? '' : ` until ${p.until}`}${p.by === 'rate_limit' ? ' (rate limit)' : ''}${p.reason === null ? '' : ` (${p.reason})`}`).join('; ')}`;
}
