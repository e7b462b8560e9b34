import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RelayError, describeError, errnoCode } from '../errors.js';
import type { DaemonMetrics } from './metrics.js';
import type { WebDashboard } from './web/server.js';

export const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'] as const;

export interface MetricsServer {
  readonly host: string;
  /** The port it listens on (the real one when 0 was asked for). */
  readonly port: number;
  /** Stops listening and drops open connections; idempotent. */
  close(): Promise<void>;
}

/** What /health answers; `ok: false` makes it answer 503. */
export type HealthReport = Record<string, unknown> & { ok?: boolean };

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse, metrics: DaemonMetrics, health: () => HealthReport, web: WebDashboard | undefined): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (web?.handle(req, res, path) === true) return;
  if (path !== '/metrics' && path !== '/health') {
    send(res, 404, 'text/plain; charset=utf-8', `not found: try ${web === undefined ? '' : '/ (the dashboard), '}/metrics or /health\n`);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  try {
    if (path === '/metrics') {
      send(res, 200, metrics.contentType, await metrics.render());
    } else {
      const report = health();
      send(res, report.ok === false ? 503 : 200, 'application/json; charset=utf-8', `${JSON.stringify(report)}\n`);
    }
  } catch (error) {
    send(res, 500, 'text/plain; charset=utf-8', `error: ${describeError(error)}\n`);
  }
}

/**
 * Serves /metrics (Prometheus text) and /health (JSON) on a loopback address only, and the web
 * dashboard (`/`, `/api/...`) when given one. Resolves once listening; rejects with IO_FAILED when the
 * port cannot be had (in use, no permission).
 */
export async function startMetricsServer(
  listen: { readonly host: string; readonly port: number },
  metrics: DaemonMetrics,
  health: () => HealthReport,
  web?: WebDashboard,
): Promise<MetricsServer> {
  if (!(LOOPBACK_HOSTS as readonly string[]).includes(listen.host)) {
    throw new RelayError('CONFIG_INVALID', `metrics host must be a loopback address (${LOOPBACK_HOSTS.join(', ')}), got \`${listen.host}\``);
  }
  const server = createServer((req, res) => {
    void handle(req, res, metrics, health, web);
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(
        new RelayError('IO_FAILED', `cannot serve metrics on ${listen.host}:${listen.port}: ${errnoCode(error) === 'EADDRINUSE' ? 'the port is in use' : describeError(error)}`, {
          cause: error,
        }),
      );
    };
    server.once('error', onError);
    server.listen(listen.port, listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // After a successful listen, errors (a client resetting) must not crash the daemon.
  server.on('error', () => undefined);
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    host: listen.host,
    port: address.port,
    close(): Promise<void> {
      closing ??= (async () => {
        // The dashboard's open streams end first, then every connection: a stop never waits on a browser.
        const webClosed = web?.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await webClosed;
      })();
      return closing;
    },
  };
}
