import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { z } from 'zod';
import { parseJsonWith } from '../contract/parse.js';
import { isoTimestamp } from '../contract/time.js';
import { checkIdentity, type ProcessCheck } from '../process/identity.js';
import { readTextIfExists, writeJsonAtomic } from './atomic.js';
import type { HomePaths } from './home.js';

/** coordination/pm-daemon.pid.json: which process is this home's daemon. Written by the daemon under the pm-daemon lock. */
export const daemonPidSchema = z.looseObject({
  pid: z.number().int().positive(),
  process_start_ticks: z.number().int().nonnegative(),
  boot_id: z.string(),
  host: z.string(),
  started_at: isoTimestamp,
  home: z.string(),
  loop_interval_seconds: z.number().positive(),
});

export type DaemonPid = z.infer<typeof daemonPidSchema>;

export function readDaemonPid(paths: HomePaths): DaemonPid | undefined {
  const text = readTextIfExists(paths.daemonPidFile);
  if (text === undefined) return undefined;
  try {
    return parseJsonWith(daemonPidSchema, text, paths.daemonPidFile);
  } catch {
    return undefined;
  }
}

export const writeDaemonPid = (paths: HomePaths, record: DaemonPid): Promise<void> => writeJsonAtomic(paths.daemonPidFile, record);

export interface DaemonLiveness {
  readonly record: DaemonPid | undefined;
  /** alive: that very process runs; gone/reused: the record is stale; absent: no record. */
  readonly process: ProcessCheck | 'absent';
  /**
   * The record names no live daemon, yet a live process holds the home's anchor: a daemon runs whose pid file was
   * removed or overwritten (it writes it again at its next periodic pass). Absent: not looked at.
   */
  readonly anchorHeld?: boolean;
}

/**
 * Is this home's daemon running? Identity (pid + start ticks + boot id), never the pid alone; and when the pid file
 * names no live daemon, the home's anchor (isHomeAnchorHeld).
 */
export function daemonLiveness(paths: HomePaths): DaemonLiveness {
  const record = readDaemonPid(paths);
  const process = record === undefined ? 'absent' : checkIdentity({ pid: record.pid, startTicks: record.process_start_ticks, bootId: record.boot_id });
  return { record, process, anchorHeld: process !== 'alive' && isHomeAnchorHeld(paths.home) };
}

/** A daemon runs for the home: the process its pid file names, or the holder of its anchor. */
export const daemonRuns = (live: DaemonLiveness): boolean => live.process === 'alive' || live.anchorHeld === true;

/**
 * The name of a home's anchor, the abstract Unix socket its daemon holds while it lives (daemon/home-anchor.ts):
 * the same for every path that resolves to the home.
 */
export function homeAnchorName(home: string): string {
  let real = home;
  try {
    real = realpathSync(home);
  } catch {
    /* a home that does not resolve is named by its path */
  }
  return `\0commit-relay/${createHash('sha256').update(real).digest('hex').slice(0, 40)}`;
}

/**
 * Whether a live process holds the home's anchor, whatever became of the pid file: the kernel's list of Unix
 * sockets (/proc/net/unix, abstract names shown with a leading @, NULs as @) names it while its daemon lives. False when
 * the list cannot be read.
 */
export function isHomeAnchorHeld(home: string): boolean {
  const wanted = ` @${homeAnchorName(home).slice(1)}`;
  let table: string;
  try {
    table = readFileSync('/proc/net/unix', 'latin1');
  } catch {
    return false;
  }
  for (let at = table.indexOf(wanted); at !== -1; at = table.indexOf(wanted, at + 1)) {
    // Node binds an abstract name padded with NULs to the whole sun_path, which the list shows as @ too.
    let end = at + wanted.length;
    while (table[end] === '@') end += 1;
    if (end === table.length || table[end] === '\n') return true;
  }
  return false;
}
