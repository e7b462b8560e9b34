// A throwaway redis-server per test: on a free loopback port, no persistence, stopped after.
// Under CI (CI set) a missing redis-server is a failure, never a skip.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './home.js';

/** Whether redis-server can be run here. */
export const HAVE_REDIS = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** The skip option for a test that needs redis-server: never skipped under CI. */
export const REDIS_SKIP = HAVE_REDIS || process.env.CI ? false : 'redis-server is not installed';

/** A free TCP port on 127.0.0.1. @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * @typedef {{ url: string, port: number, pid: number, cli: (...args: string[]) => string, stop: () => Promise<void>, restart: () => Promise<void>, kill: () => Promise<void>, launch: () => Promise<void> }} RedisServer
 */

/**
 * Starts redis-server on a free loopback port; resolves once it answers PING.
 * @param {{ args?: string[], port?: number }} [options]
 * @returns {Promise<RedisServer>}
 */
export async function startRedis({ args = [], port } = {}) {
  if (!HAVE_REDIS) throw new Error('redis-server is not installed (Debian: apt-get install redis-server)');
  const chosen = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'relay-redis-'));
  /** @type {import('node:child_process').ChildProcess} */
  let child;
  const cli = (/** @type {string[]} */ ...cmd) => {
    const out = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(chosen), ...cmd], { encoding: 'utf8', timeout: 5000 });
    return (out.stdout ?? '').trim();
  };
  const launch = async () => {
    child = spawn('redis-server', ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction', ...args], { stdio: 'ignore' });
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}) on port ${chosen}`);
        return cli('PING') === 'PONG';
      },
      { what: `redis-server on port ${chosen}`, timeoutMs: 15_000, intervalMs: 50 },
    );
  };
  const stopNow = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${chosen}`,
    port: chosen,
    get pid() {
      return child.pid ?? 0;
    },
    cli,
    async stop() {
      await stopNow();
      rmSync(dir, { recursive: true, force: true });
    },
    /** Stops it without a trace, as a crash would (its data since the last SAVE is lost). */
    kill: stopNow,
    /** Starts it again on the same port after kill(). */
    launch,
    /** Stops it (after a SAVE, so its data survives as with persistence) and starts it again on the same port. */
    async restart() {
      cli('SAVE');
      await stopNow();
      await launch();
    },
  };
}
