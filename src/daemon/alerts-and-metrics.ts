import type { DaemonSettings } from '../config/load.js';
import type { Alert } from '../contract/alerts.js';
import type { HealthState } from '../contract/pm-state.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { updateAlertsFile, type AlertsUpdate } from '../ops/alerts-file.js';
import type { AlertObservation } from '../ops/alerts.js';
import type { MetricsServer } from '../ops/metrics-server.js';
import type { DaemonMetrics } from '../ops/metrics.js';
import type { ActivitySource, WebDashboard } from '../ops/web/server.js';
import type { HomePaths } from '../store/home.js';
import type { PassHooks, PassReport } from './hooks.js';

export interface DaemonExtras extends PassHooks {
  /** Starts the metrics listener (and its web dashboard, fed by `activity`) when enabled; resolves with where it listens. */
  start(options?: { activity?: ActivitySource }): Promise<{ host: string; port: number } | undefined>;
  close(): Promise<void>;
}

/** The parts of an observation that decide alerts: re-evaluated when they change, and at least once a minute. */
function alertKey(o: Omit<AlertObservation, 'now' | 'thresholds'>): string {
  return JSON.stringify([o.zombieIds, o.stalledIds, o.restartsLastHour, o.completedLastHour, o.failedLastHour, o.queueDepth, o.blocked, o.rateLimitPauses ?? []]);
}

/**
 * Alerts (health-alerts.json, the hook) and metrics (/metrics, /health) ride on each daemon pass. The
 * hook runner (execa) and prom-client are loaded only when configured: together they are about a fifth
 * of an idle daemon's memory, and both are off by default.
 */
export function createPassHooks(paths: HomePaths, settings: DaemonSettings, logger: Logger): DaemonExtras {
  let metrics: DaemonMetrics | undefined;
  let server: MetricsServer | undefined;
  let web: WebDashboard | undefined;
  let lastKey = '';
  let lastAlertsAt = 0;
  let last: { at: number; loops: number; byHealth: Record<string, number>; queued: number } | undefined;
  const hooks = new Set<Promise<unknown>>();

  const runHook = (alert: Alert, change: 'raised' | 'resolved'): void => {
    const argv = settings.alertHook;
    if (argv === undefined) return;
    const task = import('../ops/hook-runner.js')
      .then(({ runAlertHook }) => runAlertHook(argv, { ...alert, change } as Alert, settings.alertHookTimeoutSeconds * 1000, paths.home))
      .then(
        (outcome) => {
          if (!outcome.ok) logger.warn({ alert_id: alert.id, outcome }, `alert hook failed: ${outcome.error ?? 'non-zero exit'}`);
        },
        (error: unknown) => logger.warn({ alert_id: alert.id, err: error }, `alert hook failed: ${describeError(error)}`),
      );
    hooks.add(task);
    void task.finally(() => hooks.delete(task));
  };

  return {
    async start(options = {}): Promise<{ host: string; port: number } | undefined> {
      if (!settings.metrics.enabled) return undefined;
      const [{ createDaemonMetrics }, { startMetricsServer }, { createWebDashboard }] = await Promise.all([import('../ops/metrics.js'), import('../ops/metrics-server.js'), import('../ops/web/server.js')]);
      metrics = createDaemonMetrics();
      web = createWebDashboard({ paths, queue: settings.queue, ...(options.activity === undefined ? {} : { activity: options.activity }) });
      server = await startMetricsServer({ host: settings.metrics.host, port: settings.metrics.port }, metrics, () => {
        const ageMs = last === undefined ? null : Date.now() - last.at;
        return {
          ok: ageMs !== null && ageMs < Math.max(3 * settings.loopIntervalSeconds, 15) * 1000,
          pid: process.pid,
          home: paths.home,
          loops_completed: last?.loops ?? 0,
          last_pass_age_ms: ageMs,
          workers_by_health: last?.byHealth ?? {},
          tasks_queued: last?.queued ?? 0,
        };
      }, web);
      logger.info({ host: server.host, port: server.port }, 'metrics listening');
      return { host: server.host, port: server.port };
    },

    async afterPass(report: PassReport): Promise<void> {
      const byHealth: Partial<Record<HealthState, number>> = {};
      const zombieIds: string[] = [];
      const stalledIds: string[] = [];
      const blocked: { workerId: string; message: string | null }[] = [];
      for (const [id, assessment] of report.plan.health) {
        if (assessment.state === 'blocked') blocked.push({ workerId: id, message: assessment.blockedMessage ?? null });
        byHealth[assessment.state] = (byHealth[assessment.state] ?? 0) + 1;
        if (assessment.zombie) zombieIds.push(id);
        if (assessment.state === 'stalled') stalledIds.push(id);
      }
      const counters = report.daemon.counters;
      last = { at: Date.now(), loops: (last?.loops ?? 0) + 1, byHealth, queued: report.tasksQueued };
      metrics?.recordPass({
        workersByHealth: byHealth,
        tasksQueued: report.tasksQueued,
        passDurationMs: report.passMs,
        passEndedAt: Date.now(),
        totals: { restarts_total: counters.restarts, zombies_detected_total: counters.zombies, workers_completed_total: counters.completed, workers_failed_total: counters.failed },
      });
      if (report.queueJobs !== undefined) metrics?.setQueueCounts(report.queueJobs);
      metrics?.setWorkerResources(report.resources ?? []);
      web?.passed({ queueJobs: report.queueJobs });
      const recent = report.daemon.recentCounts();
      const observed = { zombieIds, stalledIds, restartsLastHour: recent.restarts, completedLastHour: recent.completed, failedLastHour: recent.failed, queueDepth: report.tasksQueued, blocked, rateLimitPauses: report.rateLimitPauses ?? [] };
      const key = alertKey(observed);
      const now = Date.now();
      if (key === lastKey && now - lastAlertsAt < 60_000) return;
      let update: AlertsUpdate;
      try {
        update = await updateAlertsFile(paths, { ...observed, now, thresholds: settings.alerts });
      } catch (error) {
        logger.error({ err: error }, `cannot update health-alerts.json: ${describeError(error)}`);
        return;
      }
      lastKey = key;
      lastAlertsAt = now;
      report.daemon.show?.(update.events);
      for (const alert of update.raised) {
        logger.warn({ alert }, `alert raised: ${alert.message}`);
        runHook(alert, 'raised');
      }
      for (const alert of update.resolved) {
        logger.info({ alert }, `alert resolved: ${alert.message}`);
        runHook(alert, 'resolved');
      }
    },

    async close(): Promise<void> {
      await Promise.allSettled([...hooks]);
      await server?.close();
      server = undefined;
      web = undefined;
    },
  };
}
