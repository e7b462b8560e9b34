import type { NotificationSettings } from '../config/load.js';
import { KNOWN_EVENTS, type ActivityEvent } from '../contract/activity.js';
import { ALERT_TYPES } from '../contract/alerts.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EventInput } from '../store/activity-log.js';
import type { HomePaths } from '../store/home.js';

type SinkName = 'hook' | 'webhook';

/** How one delivery ended (a hook run or a webhook post). */
interface Delivery {
  readonly ok: boolean;
  readonly error?: string;
}

interface Sink {
  readonly name: SinkName;
  readonly events: readonly string[];
  send(event: ActivityEvent): Promise<Delivery>;
}

/**
 * Whether an event is one the operator chose: its type (`worker_failed`), the type of the alert an
 * `alert_raised` event carries (`workers_blocked`), or "*" for all.
 */
export function isChosen(names: readonly string[], event: ActivityEvent): boolean {
  if (names.includes('*') || names.includes(event.event)) return true;
  const alertType = event.event === 'alert_raised' ? event.data.type : undefined;
  return typeof alertType === 'string' && names.includes(alertType);
}

/** What the hook gets besides the event on stdin. */
function hookEnv(event: ActivityEvent): Record<string, string> {
  const alertType = event.event.startsWith('alert_') && typeof event.data.type === 'string' ? event.data.type : undefined;
  return {
    COMMIT_RELAY_EVENT: event.event,
    COMMIT_RELAY_WORKER_ID: event.worker_id ?? '',
    COMMIT_RELAY_TASK_ID: event.task_id ?? '',
    ...(alertType === undefined ? {} : { COMMIT_RELAY_ALERT_TYPE: alertType }),
  };
}

/** The sinks configured: the hook (run by ops/hook-runner.ts, execa loaded on first use) and the webhook (ops/webhook.ts). */
function sinksOf(settings: NotificationSettings, paths: HomePaths): Sink[] {
  const { hook, webhook } = settings;
  const sinks: Sink[] = [];
  if (hook !== undefined) {
    const send = async (event: ActivityEvent): Promise<Delivery> => {
      const { runBoundedHook } = await import('../ops/hook-runner.js');
      return runBoundedHook({ what: 'the event hook', argv: hook.argv, input: `${JSON.stringify(event)}\n`, env: hookEnv(event), timeoutMs: hook.timeoutMs, cwd: paths.home });
    };
    sinks.push({ name: 'hook', events: hook.events, send });
  }
  if (webhook !== undefined) {
    const send = async (event: ActivityEvent): Promise<Delivery> => (await import('../ops/webhook.js')).postWebhook(webhook.url.reveal(), event, webhook.timeoutMs);
    sinks.push({ name: 'webhook', events: webhook.events, send });
  }
  return sinks;
}

/** One sink's deliveries: at most `limit` at once, at most `backlog` waiting, the rest dropped and counted. */
class DeliveryQueue {
  private readonly waiting: ActivityEvent[] = [];
  private readonly running = new Set<Promise<void>>();
  private overflowing = false;
  dropped = 0;

  constructor(
    private readonly sink: Sink,
    private readonly limit: number,
    private readonly backlog: number,
    private readonly logger: Logger,
    private readonly onFailure: (sink: SinkName, event: ActivityEvent, error: string) => void,
  ) {}

  push(event: ActivityEvent): void {
    if (this.running.size < this.limit) {
      this.run(event);
      return;
    }
    if (this.waiting.length >= this.backlog) {
      this.dropped += 1;
      if (!this.overflowing) this.logger.warn({ sink: this.sink.name, backlog: this.backlog, dropped_total: this.dropped }, `notifications (${this.sink.name}): the backlog of ${this.backlog} is full; dropping events until it drains`);
      this.overflowing = true;
      return;
    }
    this.waiting.push(event);
  }

  private run(event: ActivityEvent): void {
    const task = this.sink
      .send(event)
      .then(
        (delivery) => {
          if (!delivery.ok) this.onFailure(this.sink.name, event, delivery.error ?? 'failed');
        },
        (error: unknown) => this.onFailure(this.sink.name, event, describeError(error)),
      )
      .finally(() => {
        this.running.delete(task);
        const next = this.waiting.shift();
        if (next !== undefined) this.run(next);
        else if (this.overflowing) {
          this.overflowing = false;
          this.logger.info({ sink: this.sink.name, dropped_total: this.dropped }, `notifications (${this.sink.name}): backlog drained`);
        }
      });
    this.running.add(task);
  }

  /** Drops what waits and resolves when the deliveries under way end (each is bounded by its timeout). */
  async close(): Promise<number> {
    const left = this.waiting.splice(0).length;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    return left;
  }
}

export interface NotifierOptions {
  readonly paths: HomePaths;
  readonly settings: NotificationSettings;
  readonly logger: Logger;
  /** Where `notification_failed` goes (the daemon's emit: log, console, pm-activity.jsonl). */
  readonly emit: (events: readonly EventInput[]) => void;
  readonly now?: () => number;
}

const FAILURE_EVENT_EVERY_MS = 60_000;

/**
 * Event notifications (pm-daemon.json `notifications`): each event of pm-activity.jsonl given to `handle`
 * goes to the hook (an argv, the event as JSON on stdin, bounded by the runner in ops/hook-runner.ts) and
 * to the webhook (ops/webhook.ts) when chosen for it. `handle` never waits: deliveries run in the
 * background, a few at a time, with a bounded backlog. A failure is logged, and written as
 * `notification_failed` at most once a minute per cause; it never stops the daemon.
 */
export class Notifier {
  private readonly routes: { sink: Sink; queue: DeliveryQueue }[] = [];
  private readonly lastFailure = new Map<string, number>();
  private closed = false;

  constructor(private readonly options: NotifierOptions) {
    for (const sink of sinksOf(options.settings, options.paths)) {
      this.addSink(sink);
      const unknown = sink.events.filter((name) => name !== '*' && !(KNOWN_EVENTS as readonly string[]).includes(name) && !(ALERT_TYPES as readonly string[]).includes(name));
      // Allowed (emit-event appends any type), but more often a typo than a custom type: said once, at start.
      if (unknown.length > 0) options.logger.warn({ sink: sink.name, names: unknown }, `notifications (${sink.name}): ${unknown.join(', ')}: neither an event nor an alert type the program emits (only events of that type appended by emit-event will match)`);
    }
  }

  private addSink(sink: Sink): void {
    const { settings, logger } = this.options;
    const queue = new DeliveryQueue(sink, settings.maxConcurrent, settings.backlog, logger, (name, event, error) => this.failed(name, event, error));
    this.routes.push({ sink, queue });
  }

  /** An event appended to pm-activity.jsonl (by any process): queued for each sink that chose it. */
  handle(event: ActivityEvent): void {
    if (this.closed) return;
    for (const { sink, queue } of this.routes) {
      // A sink is never told of its own failures (a failing hook chosen for "*" would feed itself).
      if (event.event === 'notification_failed' && event.data.sink === sink.name) continue;
      if (isChosen(sink.events, event)) queue.push(event);
    }
  }

  /** Events dropped because a backlog was full, per sink. */
  dropped(): Record<string, number> {
    return Object.fromEntries(this.routes.map(({ sink, queue }) => [sink.name, queue.dropped]));
  }

  private failed(sink: SinkName, event: ActivityEvent, error: string): void {
    this.options.logger.warn({ sink, event: event.event, worker_id: event.worker_id, error }, `notification failed (${sink}): ${error}`);
    const key = `${sink}:${error}`;
    const now = (this.options.now ?? Date.now)();
    if ((this.lastFailure.get(key) ?? -Infinity) + FAILURE_EVENT_EVERY_MS > now) return;
    this.lastFailure.set(key, now);
    if (this.lastFailure.size > 200) this.lastFailure.clear();
    this.options.emit([{ event: 'notification_failed', worker_id: event.worker_id, task_id: event.task_id, data: { sink, for_event: event.event, error } }]);
  }

  /** No more events; what waits is dropped (logged), the deliveries under way are awaited. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const left = await Promise.all(this.routes.map(async ({ sink, queue }) => [sink.name, await queue.close()] as const));
    for (const [name, count] of left) if (count > 0) this.options.logger.warn({ sink: name, dropped: count }, `notifications (${name}): ${count} not sent at stop`);
  }
}
