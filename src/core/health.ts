import type { HealthState } from '../contract/pm-state.js';
import type { Limits } from './limits.js';

export type ProcessState = 'alive' | 'gone' | 'reused' | 'none';

export interface ExitInfo {
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Why the daemon stopped it, when it did (stalled, time_limit, ...). */
  readonly stopReason: string | null;
}

/** What the daemon knows of one active worker at one instant; times are on the daemon clock (ms). */
export interface WorkerView {
  readonly workerId: string;
  readonly taskId: string | null;
  readonly workerType: string;
  readonly status: 'pending' | 'running' | 'completed' | 'failed';
  readonly restartCount: number;
  readonly nextRestartAt: number | null;
  readonly startedAt: number | null;
  readonly lastCheckinAt: number | null;
  readonly lastProgressChangeAt: number | null;
  /** When its output log last grew during this run (observed only for a type whose heartbeat counts output); absent: unknown. */
  readonly lastOutputAt?: number | null;
  /** The last check-in that showed the agent at work (a hook's tool call or prompt): progress, whatever its number. */
  readonly lastActivityAt?: number | null;
  /** Since when its latest check-ins say `blocked` (waiting for a person), or null when the latest is not. */
  readonly blockedSince?: number | null;
  /** The blocked check-in's message (what the person is asked). */
  readonly blockedMessage?: string | null;
  readonly progress: number | null;
  readonly process: ProcessState;
  readonly exit: ExitInfo | null;
  readonly timeoutWarnings: readonly number[];
  /** A stop of this worker is in flight. */
  readonly stopping: boolean;
  /**
   * Held by an operator (stop-worker, or fail-worker at work): never started, restarted or failed by the
   * daemon, its end never a crash. Absent: not held.
   */
  readonly held?: boolean;
  /** The limits its run started with (the spec's `execution.type_limits`), when recorded: used once its type is gone. */
  readonly startedLimits?: Limits | undefined;
  /** The status of the current run's last check-in, when it checked in. */
  readonly checkinStatus?: string | null;
  /** With a `rate_limited` check-in: its `retry_at`, on the daemon clock. */
  readonly retryAt?: number | null;
  /** How often this worker waited out a rate limit (`execution.rate_limit_waits`). */
  readonly rateLimitWaits?: number;
  /** When its last rate limit was seen (`execution.rate_limited_at`), on the daemon clock. */
  readonly rateLimitedAt?: number | null;
  /** Its run ended and the end of its output matched a rate-limit pattern (resetAt: daemon clock, when the match gave one). */
  readonly outputRateLimit?: { readonly resetAt: number | null } | null;
}

/** What a resource sample says of one run's memory. */
export interface RunMemory {
  readonly rssBytes: number;
  readonly processes: number;
  /** Its process with the largest resident set. */
  readonly biggest: { readonly pid: number; readonly command: string; readonly rssBytes: number } | null;
}

export const TIMEOUT_WARNING_PCTS = [50, 75, 90] as const;

export interface HealthAssessment {
  readonly state: HealthState;
  /** Why, in words, for events and the log. */
  readonly reason: string;
  /** Time-limit warnings due now that were not given yet. */
  readonly warningsDue: readonly number[];
  readonly timeLimitExceeded: boolean;
  /** A running worker whose recorded process is gone (or whose pid is another process) with no recorded exit. */
  readonly zombie: boolean;
  /** The next instant at which time alone may change this assessment (a deadline), or null. */
  readonly nextChangeAt: number | null;
  /** Blocked, or stopped for being blocked too long: what the person is asked. */
  readonly blockedMessage?: string | null;
}

const earliest = (...times: (number | null)[]): number | null => {
  const valid = times.filter((t): t is number => t !== null && Number.isFinite(t));
  return valid.length === 0 ? null : Math.min(...valid);
};

const seconds = (ms: number): string => `${Math.round(ms / 1000)}s`;

/** The last sign of life its type's heartbeat counts: its last check-in, its output's last growth, or the later of the two. */
export function lastSignOfLife(view: Pick<WorkerView, 'lastCheckinAt' | 'lastOutputAt'>, heartbeat: Limits['heartbeat']): number | null {
  const output = view.lastOutputAt ?? null;
  if (heartbeat === 'output') return output;
  if (heartbeat === 'any') return output === null ? view.lastCheckinAt : view.lastCheckinAt === null ? output : Math.max(output, view.lastCheckinAt);
  return view.lastCheckinAt;
}

const SIGN_OF_LIFE = { checkin: 'check-in', output: 'output', any: 'check-in or output' } as const;

/** The health of one worker, from its view, its type's limits and now. Pure. */
export function assessHealth(view: WorkerView, limits: Limits, now: number): HealthAssessment {
  const none = { warningsDue: [] as number[], timeLimitExceeded: false, zombie: false, nextChangeAt: null };
  // Held with no live process: its process ended by the operator's will, not a crash, never a zombie.
  if (view.held === true && (view.status === 'pending' || view.process !== 'alive')) {
    return { ...none, state: 'exited', reason: 'stopped by an operator: stays stopped until start-worker or restart-worker' };
  }
  if (view.status === 'pending') {
    const waiting = view.nextRestartAt !== null && view.nextRestartAt > now;
    // No countdown in the reason: it would stand still in pm-state.json between writes and make every entry new at
    // every pass (next_restart_at says when; the dashboards count down from it).
    return { ...none, state: waiting ? 'backoff' : 'starting', reason: waiting ? 'waiting to restart (backoff): see next_restart_at' : 'waiting to start', nextChangeAt: waiting ? view.nextRestartAt : null };
  }
  if (view.status !== 'running') return { ...none, state: 'exited', reason: `status ${view.status}` };
  if (view.exit !== null) {
    const how = view.exit.signal !== null ? `signal ${view.exit.signal}` : `exit code ${view.exit.exitCode}`;
    return { ...none, state: 'exited', reason: view.exit.stopReason !== null ? `stopped (${view.exit.stopReason}), ${how}` : how };
  }
  if (view.process === 'gone' || view.process === 'reused' || view.process === 'none') {
    const why = view.process === 'reused' ? 'its pid now belongs to another process' : view.process === 'none' ? 'no pid recorded' : 'no process found';
    return { ...none, state: 'zombie', reason: `zombie: ${why}, no recorded exit`, zombie: true };
  }
  const started = view.startedAt ?? now;
  const elapsed = Math.max(0, now - started);
  let warningsDue: number[] = [];
  let timeLimitExceeded = false;
  if (limits.timeLimitMs > 0) {
    const pct = (elapsed / limits.timeLimitMs) * 100;
    warningsDue = TIMEOUT_WARNING_PCTS.filter((p) => pct >= p && !view.timeoutWarnings.includes(p));
    timeLimitExceeded = elapsed >= limits.timeLimitMs;
  }
  // Rate limited by its own word: not silent while it waits for its retry_at, and its silence counts from then.
  const retryAt = view.checkinStatus === 'rate_limited' ? (view.retryAt ?? null) : null;
  if (retryAt !== null && retryAt > now && !timeLimitExceeded) {
    // The time limit's warnings fall due while it waits, too (a memoized verdict lasts until this deadline).
    const warningTimes = limits.timeLimitMs > 0 ? TIMEOUT_WARNING_PCTS.filter((p) => !view.timeoutWarnings.includes(p)).map((p) => started + (limits.timeLimitMs * p) / 100).filter((t) => t > now) : [];
    const nextChangeAt = earliest(retryAt, limits.timeLimitMs > 0 ? started + limits.timeLimitMs : null, ...warningTimes);
    return { warningsDue, timeLimitExceeded, zombie: false, nextChangeAt, state: 'backoff', reason: 'rate limited: waits until the retry_at of its check-in' };
  }
  const seen: WorkerView =
    retryAt === null
      ? view
      : {
          ...view,
          lastCheckinAt: view.lastCheckinAt !== null ? Math.max(view.lastCheckinAt, retryAt) : null,
          lastProgressChangeAt: view.lastProgressChangeAt !== null ? Math.max(view.lastProgressChangeAt, retryAt) : null,
        };
  // Silence: since the last sign of life (a check-in, or output, as its type's heartbeat says), or since the
  // start past the startup grace when there was none.
  const heartbeat = limits.heartbeat ?? 'checkin';
  const lastAlive = lastSignOfLife(seen, heartbeat);
  const what = SIGN_OF_LIFE[heartbeat];
  // Progress stuck counts only where check-ins are the heartbeat: output is a sign of life whatever the number.
  // A check-in that shows the agent at work (a hook's tool call) is progress, whatever its number says.
  const progressAt = heartbeat === 'checkin' && seen.lastProgressChangeAt !== null ? Math.max(seen.lastProgressChangeAt, seen.lastActivityAt ?? seen.lastProgressChangeAt) : null;
  const silentSince = lastAlive ?? started + limits.startupGraceMs;
  const nextWarning = limits.timeLimitMs > 0 ? TIMEOUT_WARNING_PCTS.filter((p) => !view.timeoutWarnings.includes(p)).map((p) => started + (limits.timeLimitMs * p) / 100) : [];
  const nextChangeAt = earliest(
    ...[silentSince + limits.checkinTimeoutMs, silentSince + limits.stallTimeoutMs, limits.timeLimitMs > 0 ? started + limits.timeLimitMs : null, ...nextWarning].filter((t) => t !== null && t > now),
    progressAt !== null && progressAt + limits.stallTimeoutMs > now ? progressAt + limits.stallTimeoutMs : null,
  );
  const base = { warningsDue, timeLimitExceeded, zombie: false, nextChangeAt };
  if (timeLimitExceeded) return { ...base, state: 'stalled', reason: `over its time limit (${seconds(elapsed)} of ${seconds(limits.timeLimitMs)})` };
  const blocked = assessBlocked(view, limits, now);
  if (blocked !== undefined) {
    const deadlines = [...nextWarning, limits.timeLimitMs > 0 ? started + limits.timeLimitMs : null, blocked.deadline].filter((t): t is number => t !== null && t > now);
    return { ...base, state: blocked.state, reason: blocked.reason, blockedMessage: view.blockedMessage ?? null, nextChangeAt: earliest(...deadlines) };
  }
  const silentFor = lastAlive !== null ? Math.max(0, now - lastAlive) : Math.max(0, elapsed - limits.startupGraceMs);
  if (silentFor >= limits.stallTimeoutMs) {
    return { ...base, state: 'stalled', reason: lastAlive === null ? `no ${what} since it started ${seconds(elapsed)} ago` : `no ${what} for ${seconds(silentFor)}` };
  }
  if (progressAt !== null && seen.lastCheckinAt !== null && now - progressAt >= limits.stallTimeoutMs) {
    return { ...base, state: 'stalled', reason: `progress stuck at ${view.progress ?? 0}% for ${seconds(now - progressAt)}` };
  }
  if (silentFor >= limits.checkinTimeoutMs) {
    return { ...base, state: 'late', reason: lastAlive === null ? `no first ${what} ${seconds(elapsed)} after start` : `last ${what} ${seconds(silentFor)} ago` };
  }
  if (lastAlive === null) return { ...base, state: 'starting', reason: `started, no ${what} yet` };
  return { ...base, state: 'healthy', reason: heartbeat === 'checkin' ? 'checking in' : lastAlive === seen.lastCheckinAt ? 'checking in' : 'its output grows' };
}

/**
 * A running worker waiting for a person (its latest check-in says blocked) is `blocked`, never late or
 * stalled for its silence; past its type's blocked_timeout_seconds it is `stalled` (stopped and restarted
 * as a stall is). Undefined when it is not blocked.
 */
function assessBlocked(view: WorkerView, limits: Limits, now: number): { state: 'blocked' | 'stalled'; reason: string; deadline: number | null } | undefined {
  const since = view.blockedSince ?? null;
  if (since === null) return undefined;
  const what = view.blockedMessage !== undefined && view.blockedMessage !== null && view.blockedMessage !== '' ? `: ${view.blockedMessage}` : '';
  const timeout = limits.blockedTimeoutMs ?? null;
  const blockedFor = Math.max(0, now - since);
  if (timeout !== null && blockedFor >= timeout) {
    return { state: 'stalled', reason: `blocked too long: waiting for a person for ${seconds(blockedFor)} (blocked_timeout_seconds ${Math.round(timeout / 1000)})${what}`, deadline: null };
  }
  return { state: 'blocked', reason: `waiting for a person for ${seconds(blockedFor)}${what}`, deadline: timeout === null ? null : since + timeout };
}

/** The states whose reason holds no count of seconds: between two deadlines, the same view gets the same assessment. */
const STEADY_STATES: ReadonlySet<HealthState> = new Set<HealthState>(['starting', 'healthy', 'backoff', 'exited', 'zombie']);

/**
 * assessHealth's answers kept from pass to pass: a worker whose view is the same object as at its last assessment
 * (the observer reuses it while nothing it is made of changed), under the same limits object, gets the same
 * assessment again until its next deadline (`nextChangeAt`), when time alone may change it, as long as its reason
 * names no duration. The answers are assessHealth's own: a memo, never a different verdict.
 */
export class HealthMemo {
  private readonly entries = new Map<string, { view: WorkerView; limits: Limits; at: number; assessment: HealthAssessment; pass: number }>();
  private pass = 0;

  /** Before a pass's assessments. */
  begin(): void {
    this.pass += 1;
  }

  assess(view: WorkerView, limits: Limits, now: number): HealthAssessment {
    const known = this.entries.get(view.workerId);
    if (known !== undefined && known.view === view && known.limits === limits && now >= known.at) {
      const { assessment } = known;
      if (STEADY_STATES.has(assessment.state) && (assessment.nextChangeAt === null || now < assessment.nextChangeAt)) {
        known.pass = this.pass;
        return assessment;
      }
    }
    const assessment = assessHealth(view, limits, now);
    this.entries.set(view.workerId, { view, limits, at: now, assessment, pass: this.pass });
    return assessment;
  }

  /** After a pass that assessed `workers` workers: the answers of workers no longer there are dropped. */
  end(workers: number): void {
    if (this.entries.size <= workers) return;
    for (const [id, entry] of this.entries) if (entry.pass !== this.pass) this.entries.delete(id);
  }
}
