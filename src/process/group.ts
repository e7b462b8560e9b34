import { readdirSync } from 'node:fs';
import { errnoCode } from '../errors.js';
import { readProcStat } from './identity.js';

const isLiveState = (state: string): boolean => state !== 'Z' && state !== 'X';

/**
 * Does the process group still hold a live (non-zombie) process? kill(-pgid, 0) alone is not enough:
 * it succeeds while zombies remain, and where PID 1 does not reap orphans (some containers) they
 * remain for ever. A non-empty group also keeps its pgid from being reused as a pid.
 */
export function groupHasLiveMembers(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    // EPERM: a member we may not signal, so still someone there.
    return errnoCode(error) !== 'ESRCH';
  }
  const leader = readProcStat(pgid);
  if (leader !== undefined && leader.pgrp === pgid && isLiveState(leader.state)) return true;
  return liveGroupMembers(pgid).length > 0;
}

/** The pids of the live processes of a group, from /proc (Linux). */
export function liveGroupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat !== undefined && stat.pgrp === pgid && isLiveState(stat.state)) members.push(stat.pid);
  }
  return members;
}
