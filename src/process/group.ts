import { readFileSync, readlinkSync } from 'node:fs';
import { errnoCode } from '../errors.js';
import { isLiveState, procPids, readProcStat, runTokenOf } from './identity.js';

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
  const members: number[] = [];
  for (const pid of procPids()) {
    const stat = readProcStat(pid);
    if (stat !== undefined && stat.pgrp === pgid && isLiveState(stat.state)) members.push(stat.pid);
  }
  return members;
}

/** Does the process carry this run's token (COMMIT_RELAY_RUN_ID, inherited by everything the worker starts)? */
export function carriesRunToken(pid: number, runId: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`COMMIT_RELAY_RUN_ID=${runId}`);
  } catch {
    return false;
  }
}

/**
 * The live processes left in a worker's group after its leader (the shim) is gone: `ours` carry the
 * run's token, `others` do not. A group whose leader is gone could, rarely, be another session that
 * reused the number (a double-forking daemon); the token tells them apart.
 */
export function runRemnants(pgid: number, runId: string): { ours: number[]; others: number[] } {
  const ours: number[] = [];
  // The common case, an empty group, costs one kill(2) and no scan of /proc.
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if (errnoCode(error) === 'ESRCH') return { ours, others: [] };
  }
  const others: number[] = [];
  for (const pid of liveGroupMembers(pgid)) {
    const token = runTokenOf(pid, runId);
    if (token === 'ours') ours.push(pid);
    else if (token === 'theirs') others.push(pid);
  }
  return { ours, others };
}

/** The process groups of live processes carrying this run's token (a scan of /proc: only for crash recovery). */
export function groupsOfRun(runId: string): number[] {
  const groups = new Set<number>();
  for (const pid of procPids()) {
    if (!carriesRunToken(pid, runId)) continue;
    const stat = readProcStat(pid);
    if (stat !== undefined && isLiveState(stat.state)) groups.add(stat.pgrp);
  }
  return [...groups];
}

/**
 * The live processes that work inside one of these folders (their /proc/PID/cwd is the folder or under it) or carry
 * one of these run tokens, by folder; this process is left out. A process of another user whose cwd cannot be read is
 * not seen (Linux).
 */
export function processesInside(dirs: readonly string[], runIds: ReadonlyMap<string, string> = new Map()): Map<string, number[]> {
  const found = new Map<string, number[]>(dirs.map((dir) => [dir, []]));
  for (const pid of procPids()) {
    if (pid === process.pid) continue;
    let cwd: string | undefined;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      cwd = undefined;
    }
    for (const dir of dirs) {
      const inside = cwd !== undefined && (cwd === dir || cwd.startsWith(`${dir}/`));
      const runId = runIds.get(dir);
      if (inside || (runId !== undefined && carriesRunToken(pid, runId))) {
        const stat = readProcStat(pid);
        if (stat !== undefined && isLiveState(stat.state)) found.get(dir)?.push(pid);
      }
    }
  }
  return found;
}
