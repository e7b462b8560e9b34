import type { Clock } from '../core/clock.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { appendEvents, type EventInput } from '../store/activity-log.js';
import type { HomePaths } from '../store/home.js';
import type { DaemonCounters } from './state.js';

export type CounterName = 'restarts' | 'completed' | 'failed' | 'zombies' | 'stops' | 'spawn_failures' | 'spec_invalid' | 'actions_held';

/**
 * Where the daemon's events go: each is logged (pino), shown on the console when one watches, and appended
 * to pm-activity.jsonl. Also the counters shown in pm-state.json and the metrics, the last hour's
 * restarts, completions and failures (for alerts), and failures, each written to the log at most once a minute.
 */
export class DaemonEvents {
  readonly counters: DaemonCounters = { restarts: 0, completed: 0, failed: 0, zombies: 0, stops: 0, spawn_failures: 0, spec_invalid: 0, actions_held: 0 };
  private readonly history: { kind: 'restart' | 'completed' | 'failed'; at: number }[] = [];
  private lastError = new Map<string, number>();

  constructor(
    private readonly paths: HomePaths,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly onEvent?: (event: EventInput) => void,
  ) {}

  emit(events: readonly EventInput[]): void {
    if (events.length === 0) return;
    for (const event of events) this.logger.info({ event: event.event, worker_id: event.worker_id ?? undefined, task_id: event.task_id ?? undefined, data: event.data }, event.event);
    this.show(events);
    try {
      appendEvents(this.paths, events);
    } catch (error) {
      this.logger.error({ err: error, events: events.length }, 'cannot append to pm-activity.jsonl');
    }
  }

  /** Shows events on the console, when one watches; emit's, and those another writer already appended (the alerts file's, whose writer logs them). */
  show(events: readonly EventInput[]): void {
    if (this.onEvent === undefined) return;
    for (const event of events) this.onEvent(event);
  }

  count(name: CounterName): void {
    this.counters[name] += 1;
    if (name === 'restarts' || name === 'completed' || name === 'failed') this.history.push({ kind: name === 'restarts' ? 'restart' : name, at: this.clock.now() });
  }

  /** Restarts, completions and failures in the last hour (for alerts). */
  recentCounts(): { restarts: number; completed: number; failed: number } {
    const since = this.clock.now() - 3600_000;
    while (this.history.length > 0 && (this.history[0]?.at ?? since) < since) this.history.shift();
    const counts = { restarts: 0, completed: 0, failed: 0 };
    for (const h of this.history) {
      if (h.kind === 'restart') counts.restarts += 1;
      else counts[h.kind] += 1;
    }
    return counts;
  }

  /** Logs a failure; the same failure is written to the activity log at most once a minute. */
  reportError(where: string, error: unknown, workerId?: string): void {
    this.logger.error({ err: error, where, worker_id: workerId }, `${where}: ${describeError(error)}`);
    const key = `${where}:${describeError(error)}`;
    const now = this.clock.now();
    if ((this.lastError.get(key) ?? -Infinity) + 60_000 > now) return;
    this.lastError.set(key, now);
    if (this.lastError.size > 500) this.lastError = new Map([...this.lastError].slice(-100));
    try {
      const event: EventInput = { event: 'daemon_error', worker_id: workerId, data: { where, error: describeError(error) } };
      appendEvents(this.paths, [event]);
      this.onEvent?.(event);
    } catch {
      /* the log is unwritable too: pino has it */
    }
  }
}
