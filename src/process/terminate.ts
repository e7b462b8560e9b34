import { RelayError, errnoCode } from '../errors.js';
import { groupHasLiveMembers, runRemnants } from './group.js';
import { checkIdentity, readProcStat } from './identity.js';

/**
 * The only module that signals processes. A process is signalled only when its identity (pid, start
 * ticks, boot id) still matches what was recorded when it was started; a pid since reused by another
 * process is left alone.
 */
export interface RecordedProcess {
  readonly pid: number;
  readonly startTicks: number | null | undefined;
  readonly bootId: string | null | undefined;
}

export type StopOutcome = 'terminated' | 'killed' | 'gone' | 'not_ours';

export interface StopOptions {
  /** How long to wait for the group to be gone after SIGKILL before giving up (default 3000). */
  readonly killWaitMs?: number;
  readonly pollMs?: number;
}

/** Sends a signal to a whole process group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  return sendSignal(-pgid, signal);
}

function sendSignal(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ESRCH') return false;
    throw new RelayError('WRONG_STATE', `cannot send ${signal} to ${target < 0 ? `process group ${-target}` : `pid ${target}`}: ${errnoCode(error) ?? String(error)}`, { cause: error });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilGone(isAlive: () => boolean, ms: number, pollMs: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!isAlive()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
  }
}

/**
 * Stops a recorded process and its whole group: SIGTERM to the group, up to graceMs for it to empty,
 * then SIGKILL to the group and a bounded wait to confirm. Grandchildren go with the group.
 * 'gone': nothing to stop; 'not_ours': the pid now belongs to another process, which is not touched.
 */
export async function stopProcess(recorded: RecordedProcess, graceMs: number, options: StopOptions = {}): Promise<StopOutcome> {
  const pollMs = options.pollMs ?? 25;
  const check = checkIdentity(recorded);
  if (check === 'gone') return 'gone';
  if (check === 'reused') return 'not_ours';
  // Workers are started as group leaders; a recorded process that is not one is signalled alone.
  const stat = readProcStat(recorded.pid);
  const isLeader = stat !== undefined && stat.pgrp === recorded.pid;
  const target = isLeader ? -recorded.pid : recorded.pid;
  const isAlive = isLeader ? () => groupHasLiveMembers(recorded.pid) : () => checkIdentity(recorded) === 'alive';

  if (!sendSignal(target, 'SIGTERM')) return 'gone';
  if (await waitUntilGone(isAlive, graceMs, pollMs)) return 'terminated';
  sendSignal(target, 'SIGKILL');
  const killWaitMs = options.killWaitMs ?? 3000;
  if (await waitUntilGone(isAlive, killWaitMs, pollMs)) return 'killed';
  throw new RelayError('WRONG_STATE', `pid ${recorded.pid} is still alive ${killWaitMs} ms after SIGKILL (uninterruptible?)`, { details: { pid: recorded.pid } });
}

export type RemnantsOutcome = 'none' | 'terminated' | 'killed' | 'not_ours';

/**
 * Stops what is left of a run whose leader (the shim) is gone: processes still in its group, e.g. a
 * grandchild the worker left behind, or a worker whose shim alone was SIGKILLed. The group is signalled
 * only when every live member carries the run's token (COMMIT_RELAY_RUN_ID=runId); otherwise nothing
 * is signalled and the answer is 'not_ours'. Call it only once checkIdentity says the leader is gone.
 */
export async function stopRunRemnants(pgid: number, runId: string, graceMs: number, options: StopOptions = {}): Promise<RemnantsOutcome> {
  const pollMs = options.pollMs ?? 25;
  let { ours, others } = runRemnants(pgid, runId);
  // A member seen without the token may be one caught in flight (forked, exec'ing, ending: see
  // runRemnants); a stranger is still there a moment later. Look again before leaving the group alone.
  for (let look = 0; others.length > 0 && look < 3; look += 1) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    ({ ours, others } = runRemnants(pgid, runId));
  }
  if (ours.length === 0) return others.length === 0 ? 'none' : 'not_ours';
  if (others.length > 0) return 'not_ours';
  const isAlive = (): boolean => groupHasLiveMembers(pgid);
  if (!signalGroup(pgid, 'SIGTERM')) return 'none';
  if (await waitUntilGone(isAlive, graceMs, pollMs)) return 'terminated';
  signalGroup(pgid, 'SIGKILL');
  const killWaitMs = options.killWaitMs ?? 3000;
  if (await waitUntilGone(isAlive, killWaitMs, pollMs)) return 'killed';
  throw new RelayError('WRONG_STATE', `process group ${pgid} is still alive ${killWaitMs} ms after SIGKILL`, { details: { pgid } });
}
