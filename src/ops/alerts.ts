import { randomBytes } from 'node:crypto';
import { ALERT_TYPES, type Alert, type AlertType } from '../contract/alerts.js';
import type { AlertThresholds } from '../contract/daemon-config.js';
import { nowIso } from '../contract/time.js';

/** What one daemon pass saw, as far as alerts care. Counts "in the last hour" are the daemon's to keep. */
export interface AlertObservation {
  /** Wall-clock ms: alert timestamps are written from it. */
  readonly now: number;
  readonly thresholds: AlertThresholds;
  readonly zombieIds: readonly string[];
  readonly stalledIds: readonly string[];
  readonly restartsLastHour: number;
  readonly completedLastHour: number;
  readonly failedLastHour: number;
  readonly queueDepth: number;
  /** Workers waiting for a person (health blocked), with what they ask. */
  readonly blocked?: readonly { readonly workerId: string; readonly message: string | null }[];
  /** The daemon's rate-limit pauses in force: one per provider whose workers were rate limited. */
  readonly rateLimitPauses?: readonly { readonly provider: string; readonly until: string | null; readonly workerIds: readonly string[] }[];
}

export interface AlertEvaluation {
  /** The whole new content of health-alerts.json's `alerts`. */
  readonly alerts: Alert[];
  /** Alerts raised by this evaluation (now active). */
  readonly raised: Alert[];
  /** Alerts resolved by this evaluation (as written, status resolved). */
  readonly resolved: Alert[];
}

export interface EvaluateOptions {
  /** Resolved alerts kept as history; the oldest go first. */
  readonly keepResolved?: number;
  /** Makes a new alert id; tests pass a deterministic one. */
  readonly newId?: (type: AlertType, now: number) => string;
}

export const KEEP_RESOLVED_ALERTS = 200;

/** zombie_threshold-20251121T101500Z-3f9a1c: the type, the time, and randomness for uniqueness across processes. */
export function newAlertId(type: AlertType, now: number): string {
  const stamp = nowIso(now).replace(/[-:]/g, '').replace(/\.\d+/, '');
  return `${type}-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Whether an alert type's condition holds, and what to write when it does. */
interface Condition {
  readonly holds: boolean;
  readonly severity: Alert['severity'];
  readonly metricValue: number;
  readonly threshold: number;
  readonly message: string;
  readonly workerIds: readonly string[];
  readonly extra?: Record<string, unknown>;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const pct = (ratio: number): string => `${Math.round(ratio * 1000) / 10}%`;

/**
 * The rule of each alert type. Counts fire when they reach their threshold (the contract's "reach");
 * queue depth fires above it (the worker-pool runbook's "> 100"); the failure rate needs enough
 * samples and at least one failure.
 */
export function alertConditions(o: AlertObservation): Record<AlertType, Condition> {
  const t = o.thresholds;
  const ended = o.completedLastHour + o.failedLastHour;
  const rate = ended > 0 ? o.failedLastHour / ended : 0;
  return {
    zombie_threshold: {
      holds: o.zombieIds.length >= t.zombie_threshold,
      severity: 'critical',
      metricValue: o.zombieIds.length,
      threshold: t.zombie_threshold,
      message: `${plural(o.zombieIds.length, 'zombie worker')} found in one pass (threshold ${t.zombie_threshold})`,
      workerIds: o.zombieIds,
    },
    stalled_workers: {
      holds: o.stalledIds.length >= t.stalled_threshold,
      severity: 'warning',
      metricValue: o.stalledIds.length,
      threshold: t.stalled_threshold,
      message: `${plural(o.stalledIds.length, 'stalled worker')} (threshold ${t.stalled_threshold})`,
      workerIds: o.stalledIds,
    },
    restart_storm: {
      holds: o.restartsLastHour >= t.restart_storm_threshold,
      severity: 'warning',
      metricValue: o.restartsLastHour,
      threshold: t.restart_storm_threshold,
      message: `${plural(o.restartsLastHour, 'worker restart')} in the last hour (threshold ${t.restart_storm_threshold})`,
      workerIds: [],
    },
    failure_rate: {
      holds: ended >= t.failure_rate_min_samples && o.failedLastHour > 0 && rate >= t.failure_rate_threshold,
      severity: 'warning',
      metricValue: Math.round(rate * 10000) / 10000,
      threshold: t.failure_rate_threshold,
      message: `${pct(rate)} of the ${plural(ended, 'worker')} that ended in the last hour failed (threshold ${pct(t.failure_rate_threshold)}, at least ${t.failure_rate_min_samples} needed)`,
      workerIds: [],
      extra: { samples: ended, failed: o.failedLastHour },
    },
    queue_depth: {
      holds: o.queueDepth > t.queue_depth_threshold,
      severity: 'warning',
      metricValue: o.queueDepth,
      threshold: t.queue_depth_threshold,
      message: `${plural(o.queueDepth, 'task')} queued (above ${t.queue_depth_threshold})`,
      workerIds: [],
    },
    workers_blocked: blockedCondition(o.blocked ?? []),
    provider_rate_limited: {
      holds: (o.rateLimitPauses ?? []).length > 0,
      severity: 'warning',
      metricValue: (o.rateLimitPauses ?? []).length,
      threshold: 1,
      message: `dispatch paused for rate-limited ${(o.rateLimitPauses ?? []).length === 1 ? 'provider' : 'providers'} ${(o.rateLimitPauses ?? []).map((p) => `${p.provider} (until ${p.until ?? 'resumed'})`).join(', ')}`,
      workerIds: [...new Set((o.rateLimitPauses ?? []).flatMap((p) => p.workerIds))].sort(),
      extra: { providers: (o.rateLimitPauses ?? []).map((p) => p.provider) },
    },
  };
}

/** Any worker waiting for a person: one alert naming each and what it asks. */
function blockedCondition(blocked: NonNullable<AlertObservation['blocked']>): Condition {
  const shown = blocked.slice(0, 10).map((b) => (b.message !== null && b.message !== '' ? `${b.workerId} (${b.message.length > 120 ? `${b.message.slice(0, 119)}…` : b.message})` : b.workerId));
  return {
    holds: blocked.length > 0,
    severity: 'warning',
    metricValue: blocked.length,
    threshold: 1,
    message: `${plural(blocked.length, 'worker')} waiting for a person: ${shown.join(', ')}${blocked.length > shown.length ? `, and ${blocked.length - shown.length} more` : ''}`,
    workerIds: blocked.map((b) => b.workerId),
    extra: { blocked: blocked.slice(0, 100).map((b) => ({ worker_id: b.workerId, message: b.message })) },
  };
}

const isKnownType = (type: string): type is AlertType => (ALERT_TYPES as readonly string[]).includes(type);

/**
 * The pure core of alerting: from the current alerts and one observation, the new alert list and what
 * changed. Each type has at most one active alert: raised once when its condition starts to hold,
 * updated (metric_value, worker_ids, message) while it holds, resolved when it clears. Alerts of types
 * this code does not know are kept as they are. Never mutates its input.
 */
export function evaluateAlerts(current: readonly Alert[], observation: AlertObservation, options: EvaluateOptions = {}): AlertEvaluation {
  const keepResolved = options.keepResolved ?? KEEP_RESOLVED_ALERTS;
  const newId = options.newId ?? newAlertId;
  const now = nowIso(observation.now);
  const conditions = alertConditions(observation);
  const raised: Alert[] = [];
  const resolved: Alert[] = [];
  const seenActive = new Set<AlertType>();

  const next: Alert[] = current.map((alert): Alert => {
    if (alert.status !== 'active' || !isKnownType(alert.type)) return { ...alert };
    const type = alert.type;
    const condition = conditions[type];
    // A second active alert of one type (a hand edit, an old bug) is resolved: one per type.
    if (seenActive.has(type) || !condition.holds) {
      const done: Alert = { ...alert, status: 'resolved', resolved_at: now, ...(seenActive.has(type) ? { resolution: 'duplicate' } : {}) };
      resolved.push(done);
      return done;
    }
    seenActive.add(type);
    const fresh = {
      ...condition.extra,
      severity: condition.severity,
      message: condition.message,
      metric_value: condition.metricValue,
      threshold: condition.threshold,
      worker_ids: [...condition.workerIds],
    };
    // Only a real change touches the alert (and updated_at), so a steady condition rewrites nothing.
    const same = Object.entries(fresh).every(([key, value]) => JSON.stringify(alert[key]) === JSON.stringify(value));
    return same ? { ...alert } : { ...alert, ...fresh, updated_at: now };
  });

  for (const type of ALERT_TYPES) {
    const condition = conditions[type];
    if (!condition.holds || seenActive.has(type)) continue;
    const alert: Alert = {
      id: newId(type, observation.now),
      type,
      severity: condition.severity,
      status: 'active',
      message: condition.message,
      metric_value: condition.metricValue,
      threshold: condition.threshold,
      created_at: now,
      resolved_at: null,
      worker_ids: [...condition.workerIds],
      ...condition.extra,
      updated_at: now,
    };
    raised.push(alert);
    next.push(alert);
  }

  return { alerts: trimResolved(next, keepResolved), raised, resolved };
}

/** Keeps every active alert and the newest `keep` resolved ones, in file order. */
export function trimResolved(alerts: readonly Alert[], keep: number): Alert[] {
  const resolvedCount = alerts.filter((a) => a.status === 'resolved').length;
  let drop = Math.max(0, resolvedCount - keep);
  if (drop === 0) return [...alerts];
  // Drop the resolved alerts that were resolved first (ties: earlier in the file).
  const order = alerts
    .map((a, index) => ({ a, index }))
    .filter(({ a }) => a.status === 'resolved')
    .sort((x, y) => (x.a.resolved_at ?? '').localeCompare(y.a.resolved_at ?? '') || x.index - y.index);
  const dropped = new Set<number>();
  for (const { index } of order) {
    if (drop === 0) break;
    dropped.add(index);
    drop -= 1;
  }
  return alerts.filter((_, index) => !dropped.has(index));
}
