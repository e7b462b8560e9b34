import { renameSync } from 'node:fs';
import { alertsFileSchema, type Alert } from '../contract/alerts.js';
import { parseJsonWith } from '../contract/parse.js';
import { nowIso } from '../contract/time.js';
import { describeError } from '../errors.js';
import { appendEvents, type EventInput } from '../store/activity-log.js';
import { readTextIfExists, writeJsonAtomic } from '../store/atomic.js';
import type { HomePaths } from '../store/home.js';
import { ALERTS_LOCK, withLock } from '../store/lock.js';
import { evaluateAlerts, type AlertObservation, type EvaluateOptions } from './alerts.js';

export type AlertsRead =
  | { readonly ok: true; readonly alerts: Alert[]; readonly exists: boolean }
  | { readonly ok: false; readonly reason: string };

/** Reads health-alerts.json; a missing or empty file is no alerts, a bad one is `ok: false` with the reason. */
export function readAlertsFile(paths: HomePaths): AlertsRead {
  let text: string | undefined;
  try {
    text = readTextIfExists(paths.alerts);
  } catch (error) {
    return { ok: false, reason: describeError(error) };
  }
  if (text === undefined || text.trim() === '') return { ok: true, alerts: [], exists: text !== undefined };
  try {
    return { ok: true, alerts: parseJsonWith(alertsFileSchema, text, paths.alerts).alerts, exists: true };
  } catch (error) {
    return { ok: false, reason: describeError(error) };
  }
}

export interface SetAside {
  readonly file: string;
  readonly movedTo: string | null;
  readonly reason: string;
}

export interface AlertsUpdate {
  readonly raised: Alert[];
  readonly resolved: Alert[];
  /** Active alerts after the update. */
  readonly active: Alert[];
  /** A health-alerts.json that did not parse, moved out of the way (or, when even that failed, null). */
  readonly setAside: SetAside | null;
  /** The events appended to pm-activity.jsonl (alert_raised, alert_resolved, daemon_error), for the console. */
  readonly events: readonly EventInput[];
}

const alertEventData = (alert: Alert): Record<string, unknown> => ({
  alert_id: alert.id,
  type: alert.type,
  severity: alert.severity,
  message: alert.message,
  metric_value: alert.metric_value,
  threshold: alert.threshold,
  worker_ids: alert.worker_ids.slice(0, 100),
  ...(alert.worker_ids.length > 100 ? { worker_ids_total: alert.worker_ids.length } : {}),
});

/** Moves a bad alerts file to `health-alerts.json.corrupt-<time>` so its content is kept and the next write starts clean. */
function setAsideCorrupt(paths: HomePaths, reason: string, now: number): SetAside {
  const movedTo = `${paths.alerts}.corrupt-${nowIso(now).replace(/[:.]/g, '-')}`;
  try {
    renameSync(paths.alerts, movedTo);
    return { file: paths.alerts, movedTo, reason };
  } catch (error) {
    return { file: paths.alerts, movedTo: null, reason: `${reason}; could not move it aside: ${describeError(error)}` };
  }
}

/**
 * The I/O shell around evaluateAlerts: read-modify-write of health-alerts.json under the alerts lock,
 * then one `alert_raised` / `alert_resolved` event per change. Writes only when the content changes
 * (or the file does not exist yet, so `jq .alerts` always has a file to read).
 */
export async function updateAlertsFile(paths: HomePaths, observation: AlertObservation, options: EvaluateOptions = {}): Promise<AlertsUpdate> {
  return withLock(paths, ALERTS_LOCK, async () => {
    const read = readAlertsFile(paths);
    let setAside: SetAside | null = null;
    let current: Alert[] = [];
    let exists = false;
    if (read.ok) {
      current = read.alerts;
      exists = read.exists;
    } else {
      setAside = setAsideCorrupt(paths, read.reason, observation.now);
    }
    const result = evaluateAlerts(current, observation, options);
    const changed = !exists || JSON.stringify(current) !== JSON.stringify(result.alerts);
    if (changed) await writeJsonAtomic(paths.alerts, { alerts: result.alerts }, { fsync: false });
    const events: EventInput[] = [];
    if (setAside !== null) {
      events.push({ event: 'daemon_error', data: { source: 'alerts', file: setAside.file, moved_to: setAside.movedTo, reason: setAside.reason } });
    }
    for (const alert of result.raised) events.push({ event: 'alert_raised', data: alertEventData(alert) });
    for (const alert of result.resolved) events.push({ event: 'alert_resolved', data: { ...alertEventData(alert), resolved_at: alert.resolved_at } });
    appendEvents(paths, events);
    return { raised: result.raised, resolved: result.resolved, active: result.alerts.filter((a) => a.status === 'active'), setAside, events };
  });
}
