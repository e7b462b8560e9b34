import { watch, type FSWatcher } from 'node:fs';
import { dirname, basename } from 'node:path';
import type { ActivityEvent } from '../contract/activity.js';
import { EVENT_TYPE_PATTERN } from '../contract/activity.js';
import { LogFollower } from '../ops/log-read.js';
import type { HomePaths } from '../store/home.js';

export type FeedListener = (event: ActivityEvent) => void;

const RECENT = 200;

/**
 * Follows pm-activity.jsonl from where it ended when started, whoever appends (the daemon, a command, a
 * worker's emit-event), and hands each new event to the subscribers in file order: the console, the web
 * dashboard's live stream and the notifications. The reading is ops/log-read.ts's LogFollower (whole lines
 * only; a file that shrank or was replaced is read again from its start); a watch on the folder asks for a
 * read at once, and a poll (default every second) catches what a watch misses. Reading only.
 */
export class ActivityFeed {
  private readonly listeners = new Set<FeedListener>();
  private readonly recentEvents: ActivityEvent[] = [];
  private readonly follower: LogFollower;
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private closed = false;

  constructor(
    private readonly paths: HomePaths,
    private readonly options: { readonly pollMs?: number } = {},
  ) {
    // The activity log is never rotated.
    this.follower = new LogFollower(paths.activity, undefined, (line) => this.take(line));
  }

  /** Starts following from the file's current end. */
  start(): void {
    if (this.timer !== undefined || this.closed) return;
    this.follower.start(0);
    try {
      const name = basename(this.paths.activity);
      this.watcher = watch(dirname(this.paths.activity), { persistent: false }, (_kind, file) => {
        if (file === null || file === name) this.poll();
      });
      this.watcher.on('error', () => undefined);
    } catch {
      // No watch: the poll alone.
    }
    this.timer = setInterval(() => this.poll(), this.options.pollMs ?? 1000);
    this.timer.unref();
  }

  /** Calls `listener` with each event appended from now on; returns the unsubscribe. A throwing listener is skipped, never the feed. */
  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** How many listeners follow it now. */
  get subscribers(): number {
    return this.listeners.size;
  }

  /** The last `limit` events seen since the start, oldest first. */
  recent(limit: number): ActivityEvent[] {
    return limit <= 0 ? [] : this.recentEvents.slice(-limit);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.watcher?.close();
    this.follower.close();
    this.listeners.clear();
  }

  /** Reads what was appended since the last read and hands out its whole lines. */
  poll(): void {
    if (!this.closed) this.follower.poll();
  }

  private take(line: string): void {
    const event = parseEvent(line);
    if (event === undefined) return;
    this.recentEvents.push(event);
    if (this.recentEvents.length > RECENT) this.recentEvents.splice(0, this.recentEvents.length - RECENT);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A subscriber's failure is its own.
      }
    }
  }
}

/** One line of the log as an event, or undefined for a line that is not one (a hand edit, a partial line). */
function parseEvent(line: string): ActivityEvent | undefined {
  if (line.trim() === '') return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const event = value as Record<string, unknown>;
    if (typeof event.event !== 'string' || !EVENT_TYPE_PATTERN.test(event.event) || typeof event.timestamp !== 'string') return undefined;
    const data = event.data !== null && typeof event.data === 'object' && !Array.isArray(event.data) ? (event.data as Record<string, unknown>) : {};
    return { ...event, event: event.event, timestamp: event.timestamp, data } as ActivityEvent;
  } catch {
    return undefined;
  }
}
