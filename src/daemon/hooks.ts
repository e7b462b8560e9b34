import type { PassPlan } from '../core/decide.js';
import type { EventInput } from '../store/activity-log.js';
import type { QueueJobState } from '../ops/metrics.js';
import type { Observation } from './observer.js';
import type { WorkerResources } from './resources.js';
import type { DaemonCounters } from './state.js';

/** What the daemon hands to the parts that ride on each pass (alerts, metrics), without knowing them. */
export interface PassReport {
  readonly daemon: {
    recentCounts(): { restarts: number; completed: number; failed: number };
    readonly counters: Readonly<DaemonCounters>;
    emit(events: readonly EventInput[]): void;
    /** Shows events already appended to pm-activity.jsonl on the console (the alerts file's), without logging them again. */
    show?(events: readonly EventInput[]): void;
  };
  readonly observation: Observation;
  readonly plan: PassPlan;
  readonly passMs: number;
  readonly cpuMs: number;
  readonly tasksQueued: number;
  /** The daemon's rate-limit pauses in force (for the provider_rate_limited alert). */
  readonly rateLimitPauses?: readonly { readonly provider: string; readonly until: string | null; readonly workerIds: readonly string[] }[];
  /** Each running worker's latest resource sample (for /metrics' per-worker gauges). */
  readonly resources?: readonly WorkerResources[];
  /** With the redis backend: the shared queue's counts (fleet/hosts.ts queueCounts), for /metrics. Absent with the file backend. */
  readonly queueJobs?: Readonly<Record<QueueJobState, number>>;
}

export interface PassHooks {
  afterPass?(report: PassReport): Promise<void> | void;
  beforeStop?(): Promise<void> | void;
}
