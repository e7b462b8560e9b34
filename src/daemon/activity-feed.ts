import { closeSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, basename } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { ActivityEvent } from '../contract/activity.js';
import { EVENT_TYPE_PATTERN } from '../contract/activity.js';
import type { HomePaths } from '../store/home.js';

export type FeedListener = (event: ActivityEvent) => void;

const RECENT = 200;
const CHUNK = 256 * 1024;

/**
 * Follows pm-activity.jsonl from where it ended when started, whoever appends (the daemon, a command, a
 * worker's emit-event), and hands each new event to the subscribers in file order: the web dashboard's
 * live stream and the notifications. A watch on the folder asks for a read at once; a poll (default
 * every second) catches what a watch misses. A line is handed over only once whole; a file that shrank or
 * was replaced is read again from its start. Reading only: the feed never writes the log.
 */
export class ActivityFeed {
  private readonly listeners = new Set<FeedListener>();
  private readonly recentEvents: ActivityEvent[] = [];
  private offset = 0;
  private inode = -1;
  private partial = '';
  private decoder = new StringDecoder('utf8');
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private closed = false;

  constructor(
    private readonly paths: HomePaths,
    private readonly options: { readonly pollMs?: number } = {},
  ) {}

  /** Starts following from the file's current end. */
  start(): void {
    if (this.timer !== undefined || this.closed) return;
    try {
      const stat = statSync(this.paths.activity);
      this.offset = stat.size;
      this.inode = stat.ino;
    } catch {
      this.offset = 0;
    }
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

  /** The last `limit` events seen since the start, oldest first. */
  recent(limit: number): ActivityEvent[] {
    return limit <= 0 ? [] : this.recentEvents.slice(-limit);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.watcher?.close();
    this.listeners.clear();
  }

  /** Reads what was appended since the last read and hands out its whole lines. */
  poll(): void {
    if (this.closed) return;
    let fd: number;
    try {
      fd = openSync(this.paths.activity, 'r');
    } catch {
      return;
    }
    try {
      const stat = fstatSync(fd);
      if (stat.ino !== this.inode || stat.size < this.offset) {
        // Replaced or cut: read the new file from its start.
        this.inode = stat.ino;
        this.offset = 0;
        this.partial = '';
        this.decoder = new StringDecoder('utf8');
      }
      const buffer = Buffer.alloc(CHUNK);
      while (this.offset < stat.size) {
        const read = readSync(fd, buffer, 0, Math.min(CHUNK, stat.size - this.offset), this.offset);
        if (read <= 0) break;
        this.offset += read;
        this.take(this.decoder.write(buffer.subarray(0, read)));
      }
    } finally {
      closeSync(fd);
    }
  }

  private take(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const event = parseEvent(line);
      if (event === undefined) continue;
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
