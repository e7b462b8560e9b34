import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { QueueSettings } from '../../config/load.js';
import type { ActivityEvent } from '../../contract/activity.js';
import { isValidId } from '../../contract/ids.js';
import { describeError } from '../../errors.js';
import type { FleetView, QueueCounts } from '../../fleet/hosts.js';
import type { HomePaths } from '../../store/home.js';
import { findArchivedSpec, findSpec } from '../../store/specs.js';
import { collectDashboardModel, type DashboardModel } from '../dashboard-model.js';
import { LogFollower } from '../log-read.js';
import { APP_JS, PAGE_HTML } from './page.js';

/** The part of the daemon's ActivityFeed (src/daemon/activity-feed.ts) the page needs. */
export interface ActivitySource {
  subscribe(listener: (event: ActivityEvent) => void): () => void;
  recent(limit: number): ActivityEvent[];
}

export interface WebDashboardOptions {
  readonly paths: HomePaths;
  /** New pm-activity.jsonl events; without it the page shows no activity. */
  readonly activity?: ActivitySource;
  /** The redis backend's settings: the page then shows the fleet's hosts (readFleet). */
  readonly queue?: QueueSettings;
  /** At most one state message per this many ms (default 500). */
  readonly minIntervalMs?: number;
  /** The comment every SSE stream gets so proxies and browsers keep it open (default 15 s). */
  readonly heartbeatMs?: number;
  /** How often an open log stream looks at its file (default 500 ms). */
  readonly logPollMs?: number;
}

/** What /api/state answers and each `state` message carries. */
export interface WebState {
  readonly model: DashboardModel;
  /** The redis backend's queue counts as of the daemon's last pass (null with the file backend). */
  readonly queue_jobs: QueueCounts | null;
  /** The redis backend's fleet (null with the file backend, or when Redis cannot be read: see fleet_problem). */
  readonly fleet: FleetView | null;
  readonly fleet_problem: string | null;
}

export interface WebDashboard {
  /** Answers a request of the page or its API; false when the path is not one of them. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean;
  /** A daemon pass ended: the open pages get the new state (throttled, and only when it changed). */
  passed(info?: { queueJobs?: QueueCounts | undefined }): void;
  /** Ends every open stream and timer, closes the fleet connection. */
  close(): Promise<void>;
}

/** No external assets, scripts only from /app.js, no framing. */
export const CSP = "default-src 'self'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const SECURITY_HEADERS = { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY', 'cache-control': 'no-store' };
const LOG_LINES = 100;
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i;
/** A client that lets this much pile up unread is dropped (it reconnects): one slow tab never holds the daemon's memory. */
const MAX_BUFFERED = 1024 * 1024;
const FLEET_REFRESH_MS = 2000;
const RECENT_ACTIVITY = 50;

/** Fields that only say how long ago: left out when deciding whether the state changed (the page ages them itself). */
const AGING = new Set(['generated_at', 'uptime_seconds', 'last_checkin_age_seconds', 'next_restart_in_seconds', 'age_seconds', 'last_pass_age_seconds', 'seconds_since_seen', 'last_pass_at', 'passes', 'last_pass_ms', 'last_seen', 'ended_age_seconds']);
export function changeKey(state: WebState): string {
  // The daemon's one-line message says its uptime and last pass: the page words a healthy daemon itself.
  const daemon = state.model.daemon.ok ? { ...state.model.daemon, message: '' } : state.model.daemon;
  return JSON.stringify({ ...state, model: { ...state.model, daemon } }, (key, value: unknown) => (AGING.has(key) ? undefined : value));
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

const sendText = (res: ServerResponse, status: number, text: string): void => send(res, status, 'text/plain; charset=utf-8', `${text}\n`);

/** One server-sent event; data is JSON, so it never holds a newline. */
const sseMessage = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

class SseClient {
  constructor(
    readonly res: ServerResponse,
    private readonly onDrop: () => void,
  ) {}

  write(chunk: string): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    if (this.res.writableLength > MAX_BUFFERED) {
      this.res.destroy();
      this.onDrop();
      return;
    }
    this.res.write(chunk);
  }
}

function openStream(req: IncomingMessage, res: ServerResponse): boolean {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  if (req.method === 'HEAD') {
    res.end();
    return false;
  }
  res.write('retry: 2000\n\n');
  return true;
}

/** One open /api/logs stream: the follower's lines sent in one `lines` message per poll. */
class LogStream {
  private batch: string[] = [];
  private readonly follower: LogFollower;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly client: SseClient,
    log: { readonly file: string; readonly rotated: string; readonly lines: number; readonly pollMs: number },
    private readonly onClose: () => void,
  ) {
    this.follower = new LogFollower(log.file, log.rotated, (line) => this.batch.push(line));
    this.step(() => this.follower.start(log.lines));
    this.timer = setInterval(() => this.step(() => this.follower.poll()), log.pollMs);
    this.timer.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.follower.close();
    this.onClose();
  }

  private step(read: () => void): void {
    if (this.closed) return;
    try {
      read();
    } catch {
      // A file that went away between a stat and a read: the next poll sees the new state.
    }
    if (this.batch.length === 0) return;
    const lines = this.batch;
    this.batch = [];
    this.client.write(sseMessage('lines', lines));
  }
}

/** The fleet view of the redis backend, read on its own fail-fast connection at most every FLEET_REFRESH_MS. */
class FleetReader {
  private view: FleetView | null = null;
  private problem: string | null = null;
  private readAt = 0;
  private reading: Promise<void> | undefined;
  private conn: { redis: import('ioredis').Redis; queue: import('bullmq').Queue } | undefined;
  private closed = false;

  constructor(private readonly settings: QueueSettings) {}

  current(): { fleet: FleetView | null; fleet_problem: string | null } {
    return { fleet: this.view, fleet_problem: this.problem };
  }

  /** Reads again when the last read is old enough; resolves when done (never rejects). */
  refresh(): Promise<void> {
    if (this.closed || Date.now() - this.readAt < FLEET_REFRESH_MS) return Promise.resolve();
    this.reading ??= this.read().finally(() => {
      this.reading = undefined;
      this.readAt = Date.now();
    });
    return this.reading;
  }

  private async read(): Promise<void> {
    try {
      const [{ readFleet }, { connectForCommand }, { Queue }] = await Promise.all([import('../../fleet/hosts.js'), import('../../fleet/redis.js'), import('bullmq')]);
      if (this.conn === undefined) {
        const redis = await connectForCommand(this.settings, 3000);
        const queue = new Queue(this.settings.name, { connection: redis });
        queue.on('error', () => undefined);
        this.conn = { redis, queue };
      }
      this.view = await readFleet(this.conn.redis, this.conn.queue, this.settings.name, Date.now());
      this.problem = null;
    } catch (error) {
      this.problem = describeError(error);
      await this.drop();
    }
  }

  private async drop(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (conn === undefined) return;
    await conn.queue.close().catch(() => undefined);
    conn.redis.disconnect();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reading;
    await this.drop();
  }
}

/**
 * The web dashboard of the daemon's loopback listener: `/` (the page), `/app.js` (its script),
 * `/api/state` (JSON), `/api/events` (SSE: `state` after a pass when it changed, at most every
 * minIntervalMs; `activity` per new event) and `/api/logs/<worker_id>` (SSE: `lines`, the last 100 then each
 * new one). Read-only: GET and HEAD only. The state is built once per pass for every open page.
 */
export function createWebDashboard(options: WebDashboardOptions): WebDashboard {
  const { paths } = options;
  const minIntervalMs = options.minIntervalMs ?? 500;
  const fleet = options.queue?.backend === 'redis' ? new FleetReader(options.queue) : undefined;
  const eventClients = new Set<SseClient>();
  const logStreams = new Set<LogStream>();
  let queueJobs: QueueCounts | null = null;
  let lastKey = '';
  let lastSentAt = 0;
  let pending: NodeJS.Timeout | undefined;
  let dirty = false;
  let closed = false;

  const buildState = (): WebState => ({ model: collectDashboardModel(paths), queue_jobs: queueJobs, ...(fleet?.current() ?? { fleet: null, fleet_problem: null }) });

  const broadcast = async (): Promise<void> => {
    dirty = false;
    if (closed || eventClients.size === 0) return;
    await fleet?.refresh();
    let state: WebState;
    try {
      state = buildState();
    } catch {
      return;
    }
    lastSentAt = Date.now();
    const key = changeKey(state);
    if (key === lastKey) return;
    lastKey = key;
    const message = sseMessage('state', state);
    for (const client of eventClients) client.write(message);
  };

  // One broadcast at a time; a pass during one asks for another after it (still at most one per minIntervalMs).
  const schedule = (): void => {
    dirty = true;
    if (closed || pending !== undefined || eventClients.size === 0) return;
    const wait = Math.max(0, lastSentAt + minIntervalMs - Date.now());
    pending = setTimeout(() => {
      void broadcast().finally(() => {
        pending = undefined;
        if (dirty) schedule();
      });
    }, wait);
    pending.unref();
  };

  const unsubscribe = options.activity?.subscribe((event) => {
    if (eventClients.size === 0) return;
    const message = sseMessage('activity', event);
    for (const client of eventClients) client.write(message);
  });

  const heartbeat = setInterval(() => {
    for (const client of eventClients) client.write(': heartbeat\n\n');
    for (const stream of logStreams) stream.client.write(': heartbeat\n\n');
  }, options.heartbeatMs ?? 15_000);
  heartbeat.unref();

  const events = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    await fleet?.refresh();
    // The page went away, or the server is closing, while the fleet was read.
    if (closed || res.destroyed) return void res.destroy();
    if (!openStream(req, res)) return;
    const client = new SseClient(res, () => eventClients.delete(client));
    eventClients.add(client);
    res.on('close', () => eventClients.delete(client));
    const state = buildState();
    client.write(sseMessage('state', state));
    for (const event of options.activity?.recent(RECENT_ACTIVITY) ?? []) client.write(sseMessage('activity', event));
  };

  const logs = async (req: IncomingMessage, res: ServerResponse, workerId: string): Promise<void> => {
    const shown = JSON.stringify(workerId.slice(0, 200));
    if (!isValidId(workerId)) return sendText(res, 400, `bad worker id: ${shown}`);
    const dir = paths.workerLogDir(workerId);
    if (!existsSync(dir) && findSpec(paths, workerId) === undefined && findArchivedSpec(paths, workerId) === undefined) return sendText(res, 404, `no worker ${workerId}`);
    if (closed) return void res.destroy();
    if (!openStream(req, res)) return;
    const client = new SseClient(res, () => stream.close());
    const log = { file: paths.workerLogFile(workerId), rotated: paths.workerRotatedLogFile(workerId), lines: LOG_LINES, pollMs: options.logPollMs ?? 500 };
    const stream = new LogStream(client, log, () => logStreams.delete(stream));
    logStreams.add(stream);
    res.on('close', () => stream.close());
  };

  const route = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (path === '/' || path === '/index.html') return send(res, 200, 'text/html; charset=utf-8', PAGE_HTML);
    if (path === '/app.js') return send(res, 200, 'text/javascript; charset=utf-8', APP_JS);
    if (path === '/favicon.ico') {
      res.writeHead(204, SECURITY_HEADERS);
      return void res.end();
    }
    if (path === '/api/state') {
      await fleet?.refresh();
      return send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify(buildState())}\n`);
    }
    if (path === '/api/events') return events(req, res);
    let workerId: string;
    try {
      workerId = decodeURIComponent(path.slice('/api/logs/'.length));
    } catch {
      return sendText(res, 400, 'bad worker id: not valid percent-encoding');
    }
    return logs(req, res, workerId);
  };

  return {
    handle(req, res, path) {
      const known = path === '/' || path === '/index.html' || path === '/app.js' || path === '/favicon.ico' || path === '/api/state' || path === '/api/events' || path.startsWith('/api/logs/');
      if (!known) return false;
      // A page elsewhere could reach the loopback listener through a name it resolves to 127.0.0.1 (DNS rebinding):
      // the dashboard answers only to a loopback Host.
      if (!LOOPBACK_HOST.test(req.headers.host ?? '')) {
        sendText(res, 403, 'forbidden: the dashboard answers only to a loopback Host (127.0.0.1, localhost, [::1])');
        return true;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: the dashboard is read-only\n', { allow: 'GET, HEAD' });
        return true;
      }
      route(req, res, path).catch((error: unknown) => {
        if (!res.headersSent) sendText(res, 500, `error: ${describeError(error)}`);
        else res.destroy();
      });
      return true;
    },
    passed(info) {
      if (info?.queueJobs !== undefined) queueJobs = info.queueJobs;
      schedule();
    },
    async close() {
      closed = true;
      unsubscribe?.();
      clearInterval(heartbeat);
      if (pending !== undefined) clearTimeout(pending);
      for (const client of eventClients) client.res.end();
      eventClients.clear();
      for (const stream of [...logStreams]) {
        stream.close();
        stream.client.res.end();
      }
      await fleet?.close();
    },
  };
}
