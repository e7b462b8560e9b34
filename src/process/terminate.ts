import { RelayError, errnoCode } from '../errors.js';
import { groupHasLiveMembers, groupsOfRun, runRemnants } from './group.js';
import { checkIdentity, checkRun, readProcStat, type RecordedRun } from './identity.js';

/**
 * The only module that signals processes. A process is signalled only when it is positively ours: its
 * identity (pid, start ticks, boot id) still matches what was recorded when it was started, and it carries
 * the run's token (COMMIT_RELAY_RUN_ID). A pid since reused, or a stranger named by a hand-edited spec,
 * is left alone.
 */
export type RecordedProcess = RecordedRun;

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
 * 'gone': nothing to stop; 'not_ours': the pid belongs to a process that is not the run's, which is not touched.
 */
export async function stopProcess(recorded: RecordedProcess, graceMs: number, options: StopOptions = {}): Promise<StopOutcome> {
  const pollMs = options.pollMs ?? 25;
  const check = checkRun(recorded);
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

export interface RunStop {
  readonly outcome: StopOutcome;
  /** The recorded pid, when a live process that is not the run's holds it (never signalled): to report. */
  readonly notOurs: number | null;
}

/**
 * Stops a worker's run. The recorded process and its group, when they are positively the run's; then,
 * when the recorded process was gone or not the run's, whatever still carries the run's token (the real
 * run of a spec whose pid was edited by hand, or what a killed shim left). `everywhere`: also whatever
 * carries the token outside the group (a process that escaped it with setsid), at the cost of a scan of
 * /proc. A process without the token is never signalled.
 */
export async function stopRun(recorded: RecordedRun, graceMs: number, options: StopOptions & { everywhere?: boolean } = {}): Promise<RunStop> {
  const runId = recorded.runId;
  // What escaped the group is stopped beside it, within the same grace (one after the other, a stubborn escapee
  // would double the stop, and it may hold the log pipe the group's split waits on).
  const escaped = runId !== null && runId !== undefined && options.everywhere === true ? groupsOfRun(runId).filter((pgid) => pgid !== recorded.pid) : [];
  const [first, ...beside] = await Promise.all([stopProcess(recorded, graceMs, options), ...escaped.map((pgid) => stopRunRemnants(pgid, runId as string, graceMs, options))]);
  const notOurs = first === 'not_ours' ? recorded.pid : null;
  if (runId === null || runId === undefined) return { outcome: first, notOurs };
  let outcome: StopOutcome = first;
  const note = (remnants: RemnantsOutcome | StopOutcome): void => {
    if ((remnants === 'terminated' || remnants === 'killed') && outcome !== 'terminated' && outcome !== 'killed') outcome = remnants;
  };
  beside.forEach(note);
  // Then what is left: the common case (the shim ended on its own) costs one look at the old group, no scan of
  // /proc; a recorded process that was not the run's, or a sweep everywhere, looks for the token in every group.
  const groups = first === 'not_ours' || options.everywhere === true ? groupsOfRun(runId) : first === 'gone' ? [recorded.pid] : [];
  for (const remnants of await Promise.all(groups.map((pgid) => stopRunRemnants(pgid, runId, graceMs, options)))) note(remnants);
  return { outcome, notOurs };
}

/** Stops whatever still carries the run's token, in any group (a scan of /proc): what escaped a finished run. */
export async function stopRunEverywhere(runId: string, graceMs: number, options: StopOptions = {}): Promise<RemnantsOutcome> {
  let outcome: RemnantsOutcome = 'none';
  // Every group at once, within one grace.
  for (const remnants of await Promise.all(groupsOfRun(runId).map((pgid) => stopRunRemnants(pgid, runId, graceMs, options)))) {
    if (remnants !== 'none' && outcome !== 'killed') outcome = remnants;
  }
  return outcome;
}
