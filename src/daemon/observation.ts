import type { Checkin } from '../contract/checkin.js';
import type { HealthState } from '../contract/pm-state.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import type { WorkerView } from '../core/health.js';
import type { ProcessIdentity } from '../process/identity.js';

// What the observer reads for one pass, and what it remembers of each worker between passes.

/** What the daemon remembers of one active worker between passes. */
export interface Memory {
  specSig: string;
  spec: WorkerSpec | null;
  invalidReported: string | null;
  runId: string | null;
  startedAtIso: string | null;
  startedAt: number | null;
  checkinSig: string;
  checkinTs: string | null;
  checkin: Checkin | null;
  checkinCount: number;
  lastCheckinAt: number | null;
  lastProgressChangeAt: number | null;
  /** The latest mtime (wall ms) seen on the run's output log (output.log or output.log.1), and when it grew, on the daemon clock. */
  outputMtime: number;
  lastOutputAt: number | null;
  /** The last check-in that showed the agent at work (its `activity`, from a hook). */
  lastActivityAt: number | null;
  /** Since when its check-ins say blocked (the first of a row of blocked check-ins), or null. */
  blockedSince: number | null;
  /** The identity of the run's process while it was last seen alive (for orphan checks). */
  identity: ProcessIdentity | null;
  /** When a full reading reads that process's identity in /proc again (daemon clock; see Observer.viewOf). */
  identityDueAt: number;
  stopping: boolean;
  health: HealthState | null;
  nextRestartIso: string | null;
  nextRestartAt: number | null;
  /** The worker as the last pass saw it, reused while nothing it is made of changed (see Observer.viewOf). */
  observed: ObservedWorker | null;
  /** outputMtime when `observed` was made (its lastOutput is made of it). */
  observedOutputMtime: number;
}

export interface ObservedWorker {
  readonly spec: WorkerSpec;
  readonly view: WorkerView & { readonly createdAt: string };
  readonly checkin: Checkin | null;
  readonly checkinCount: number;
  /** When its output log last grew in this run (ISO), for a type whose heartbeat counts output; else null. */
  readonly lastOutput?: string | null;
}

export interface InvalidSpec {
  readonly workerId: string;
  readonly file: string;
  readonly reason: string;
}

export interface NewCheckin {
  readonly workerId: string;
  readonly taskId: string | null;
  readonly checkin: Checkin;
}

export interface Departed {
  readonly workerId: string;
  /** Its process as last seen alive (and carrying the run's token), if it was. */
  readonly identity: ProcessIdentity | null;
  readonly runId: string | null;
  /** What the daemon knew of it when it departed from a pass's view (its spec as last read, its check-ins): kept if its spec is written back. */
  readonly memory?: Memory;
}

export interface Observation {
  readonly workers: ObservedWorker[];
  /** Newly broken specs (each reported once per version of the file). */
  readonly invalid: InvalidSpec[];
  readonly invalidCount: number;
  readonly newCheckins: NewCheckin[];
  readonly ignoredCheckins: { workerId: string; reason: string }[];
  /** A full reading (every spec listed): only such a reading tells who departed. */
  readonly full: boolean;
  /** Workers that left active/ since the last pass. */
  readonly departed: Departed[];
  /**
   * active/ itself was removed or replaced (another inode) at this full reading or the one before: its workers
   * left with the folder (coordination/ removed while the daemon ran), not one by one.
   */
  readonly activeReplaced?: boolean;
}

export function blankMemory(): Memory {
  return {
    specSig: '',
    spec: null,
    invalidReported: null,
    runId: null,
    startedAtIso: null,
    startedAt: null,
    checkinSig: '',
    checkinTs: null,
    checkin: null,
    checkinCount: 0,
    lastCheckinAt: null,
    lastProgressChangeAt: null,
    outputMtime: 0,
    lastOutputAt: null,
    lastActivityAt: null,
    blockedSince: null,
    identity: null,
    identityDueAt: 0,
    stopping: false,
    health: null,
    nextRestartIso: null,
    nextRestartAt: null,
    observed: null,
    observedOutputMtime: 0,
  };
}
