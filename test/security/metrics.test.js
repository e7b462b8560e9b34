// The metrics listener binds to loopback only: a non-loopback host is refused, wherever it comes from.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadDaemonSettings } from '../../dist/config/load.js';
import { createDaemonMetrics } from '../../dist/ops/metrics.js';
import { startMetricsServer } from '../../dist/ops/metrics-server.js';
import { openHome } from '../../dist/store/home.js';
import { pmState } from '../helpers/daemon.js';
import { makeHome, removeHome, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';

function get(host, port) {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/health', timeout: 1500, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
    });
    req.on('error', (/** @type {NodeJS.ErrnoException} */ error) => resolve({ error: error.code }));
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.end();
  });
}

/** The sockets listening on a port, from /proc/net/tcp and tcp6: local addresses in kernel hex. */
function listeners(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue; // 0A: LISTEN
      const [addr, p] = cols[1].split(':');
      if (p === hexPort) out.push(addr);
    }
  }
  return out;
}
const LOOPBACK_HEX = new Set(['0100007F', '00000000000000000000000001000000']);

const nonLoopback = ['0.0.0.0', '::', '', '192.168.1.10', '10.0.0.1', 'example.com', '127.0.0.1 ', '::ffff:0.0.0.0', '0', 'LOCALHOST.'];

describe('the metrics listener', () => {
  test('startMetricsServer refuses every non-loopback host before it listens', async () => {
    const metrics = createDaemonMetrics({ processMetrics: false });
    for (const host of nonLoopback) {
      await assert.rejects(startMetricsServer({ host, port: 0 }, metrics, () => ({})), (/** @type {import('../../dist/errors.js').RelayError} */ e) => e.code === 'CONFIG_INVALID' && /loopback/.test(e.message), `host ${JSON.stringify(host)}`);
    }
  });

  for (const host of ['127.0.0.1', '::1', 'localhost']) {
    test(`on ${host} it listens on a loopback address only, unreachable from this machine's other addresses`, async (t) => {
      const metrics = createDaemonMetrics({ processMetrics: false });
      let server;
      try {
        server = await startMetricsServer({ host, port: 0 }, metrics, () => ({ ok: true }));
      } catch (error) {
        if (host === '::1' && /EADDRNOTAVAIL|EAFNOSUPPORT/.test(error.message)) return t.skip('no IPv6 loopback here');
        throw error;
      }
      try {
        const bound = listeners(server.port);
        assert.ok(bound.length >= 1, 'the listening socket is in /proc/net');
        assert.ok(bound.every((a) => LOOPBACK_HEX.has(a)), `bound only to loopback, got ${bound.join(', ')}`);
        const external = /** @type {import('node:os').NetworkInterfaceInfo[]} */ (Object.values(networkInterfaces()).flat().filter((i) => i && !i.internal && i.family === 'IPv4'));
        for (const address of external) {
          const answer = await get(address.address, server.port);
          assert.ok(answer.error !== undefined, `${address.address}:${server.port} must not answer, got ${JSON.stringify(answer)}`);
        }
      } finally {
        await server.close();
      }
    });
  }

  test('pm-daemon.json naming a non-loopback host is a configuration error naming the file', () => {
    const home = makeHome();
    try {
      const paths = openHome(home);
      for (const host of ['0.0.0.0', '::', '192.168.1.10']) {
        writeFileSync(paths.daemonConfig, JSON.stringify({ metrics: { enabled: true, host } }));
        assert.throws(() => loadDaemonSettings(paths, {}), (/** @type {import('../../dist/errors.js').RelayError} */ e) => e.code === 'CONFIG_INVALID' && e.message.includes(paths.daemonConfig) && /metrics\.host/.test(e.message));
      }
    } finally {
      removeHome(home);
    }
  });
});

describe('the daemon and its metrics listener', () => {
  test('refuses to start with a non-loopback metrics host, in one line, changing nothing', () => withHome({ daemonConfig: { metrics: { enabled: true, host: '0.0.0.0', port: 0 } } }, async ({ home }) => {
    const result = await run(home, ['pm-daemon', '--quiet'], { timeoutMs: 10_000 });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /pm-daemon\.json.*metrics\.host/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.throws(() => readFileSync(join(home, 'coordination', 'pm-state.json')), /ENOENT/);
  }));

  test('serves on loopback when enabled, and says where in pm-state.json', () => withHome({}, async ({ home, startDaemon }) => {
    await startDaemon({ env: { PM_METRICS_PORT: '0' } });
    const endpoint = await waitFor(() => pmState(home).pm_daemon.metrics, { what: 'the metrics endpoint in pm-state.json' });
    assert.equal(endpoint.host, '127.0.0.1');
    assert.ok(listeners(endpoint.port).every((a) => LOOPBACK_HEX.has(a)));
    assert.equal((await get('127.0.0.1', endpoint.port)).status, 200);
  }));
});
