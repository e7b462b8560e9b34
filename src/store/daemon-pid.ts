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
}

/** Is this home's daemon running? Identity (pid + start ticks + boot id), never the pid alone. */
export function daemonLiveness(paths: HomePaths): DaemonLiveness {
  const record = readDaemonPid(paths);
  if (record === undefined) return { record, process: 'absent' };
  return { record, process: checkIdentity({ pid: record.pid, startTicks: record.process_start_ticks, bootId: record.boot_id }) };
}
