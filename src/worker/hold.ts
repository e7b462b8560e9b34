import { randomBytes } from 'node:crypto';
import { nowIso } from '../contract/time.js';
import type { StopHold } from '../contract/worker-spec.js';
import { checkIdentity, readIdentity } from '../process/identity.js';

/** The claims this process holds now (a command, or a test calling the lifecycle in-process twice at once). */
const ownClaims = new Set<string>();

/**
 * A new hold by this process: what stop-worker (`stop`) or fail-worker (`fail`) writes under the spec lock
 * before any signal. It names its command's process (pid, start ticks) and a claim id, so that another
 * command can tell a command still at work from one that died.
 */
export function newHold(action: StopHold['action'], reason: string, by: string, at: number): StopHold & { claim_id: string } {
  const claimId = `hold-${randomBytes(6).toString('hex')}`;
  ownClaims.add(claimId);
  return { at: nowIso(at), action, reason, by, pid: process.pid, process_start_ticks: readIdentity(process.pid)?.startTicks ?? null, claim_id: claimId };
}

/** This process is done with its claim (whatever became of it). */
export function releaseHold(hold: { claim_id: string }): void {
  ownClaims.delete(hold.claim_id);
}

const claimOf = (hold: StopHold): string | null => (typeof hold.claim_id === 'string' ? hold.claim_id : null);

/** The same claim (the one this command wrote)? */
export const sameHold = (a: StopHold | null, b: StopHold | null): boolean => a !== null && b !== null && claimOf(a) !== null && claimOf(a) === claimOf(b);

/**
 * Is the command that set this hold still at work? In this process: while its claim is held. Elsewhere:
 * while its process (same pid and start ticks) lives. A hold by a command that died is no one's.
 */
export function holderAlive(hold: StopHold): boolean {
  const pid = hold.pid ?? null;
  if (pid === null) return false;
  if (pid === process.pid) {
    const claim = claimOf(hold);
    return claim !== null && ownClaims.has(claim);
  }
  return checkIdentity({ pid, startTicks: hold.process_start_ticks ?? null, bootId: null }) === 'alive';
}

/** The hold in words, for messages: "by stop-worker (pid 123) at 2026-…: manual stop". */
export function describeHold(hold: StopHold): string {
  const by = `${hold.by ?? 'an operator'}${hold.pid === null || hold.pid === undefined ? '' : ` (pid ${hold.pid})`}`;
  return `by ${by} at ${hold.at}${hold.reason === null || hold.reason === undefined ? '' : `: ${hold.reason}`}`;
}
