import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { TextDecoder } from 'node:util';
import { describe, test } from 'node:test';
import { createDaemonMetrics } from '../../dist/ops/metrics.js';
import { startMetricsServer } from '../../dist/ops/metrics-server.js';
import { APP_JS, PAGE_HTML } from '../../dist/ops/web/page.js';
import { createWebDashboard } from '../../dist/ops/web/server.js';
import { publishHost } from '../../dist/fleet/hosts.js';
import { connectForCommand } from '../../dist/fleet/redis.js';
import { pmState } from '../helpers/daemon.js';
import { fixtureCommand as fixture, run, waitFor } from '../helpers/home.js';
import { REDIS_SKIP, startRedis } from '../helpers/redis.js';
import { withHome } from '../helpers/scope.js';

const CHROMIUM = '/usr/bin/chromium';
const XSS = '<img src=x onerror=window.__xss=1>';

/**
 * Reads server-sent events from url until `until` holds for what arrived (or the ceiling), then aborts.
 * @param {string} url @param {(events: { event: string, data: unknown }[]) => boolean} until @param {number} [timeoutMs]
 */
async function readEvents(url, until, timeoutMs = 5000) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  /** @type {{ event: string, data: unknown }[]} */
  const events = [];
  try {
    const res = await fetch(url, { signal: abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = /** @type {ReadableStream<Uint8Array>} */ (res.body).getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      let end;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return events;
}

/** The status of GET /api/state on 127.0.0.1 sent with another Host header. @param {number} port @param {string} host */
function statusWithHost(port, host) {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/api/state', headers: { host }, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    })
      .on('error', reject)
      .end();
  });
}

describe('the web dashboard server', () => {
  test('page, script and API: headers, 400/404/405, a throttled state stream, and a stop that ends open streams', () => withHome({}, async ({ paths }) => {
    const web = createWebDashboard({ paths, minIntervalMs: 300, logPollMs: 50 });
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0 }, createDaemonMetrics({ processMetrics: false }), () => ({ ok: true }), web);
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
      const csp = page.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/, 'no inline script allowed');
      assert.match(await page.text(), /<script src="\/app.js"><\/script>/);
      const script = await fetch(`${base}/app.js`);
      assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.equal(await script.text(), APP_JS);
      const state = /** @type {import('../../dist/ops/web/server.js').WebState} */ (await (await fetch(`${base}/api/state`)).json());
      assert.deepEqual(state.model.workers, []);
      assert.equal(state.fleet, null, 'the file backend has no hosts');
      assert.equal((await fetch(`${base}/api/logs/..%2Fetc`)).status, 400);
      assert.equal((await fetch(`${base}/api/logs/%E0%A4%A`)).status, 400);
      assert.equal((await fetch(`${base}/api/logs/nobody-here`)).status, 404);
      const post = await fetch(`${base}/api/state`, { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      assert.equal((await fetch(`${base}/`, { method: 'HEAD' })).status, 200);
      assert.equal((await fetch(`${base}/nope`)).status, 404);
      assert.equal(await statusWithHost(server.port, `attacker.example:${server.port}`), 403, 'a foreign Host (DNS rebinding) is refused');
      assert.equal(await statusWithHost(server.port, `localhost:${server.port}`), 200);
      assert.equal((await fetch(`${base}/metrics`)).status, 200, '/metrics still served');

      // Twenty passes in a burst: the first state on connect, then at most a change or two, never one per pass.
      const stream = readEvents(`${base}/api/events`, () => false, 1000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (let i = 0; i < 20; i++) {
        writeFileSync(join(paths.home, 'coordination', 'dispatch-pauses.json'), JSON.stringify({ pauses: [{ type: `t${i}`, reason: 'drain', until: null, by: 'operator', at: new Date().toISOString() }] }));
        web.passed();
      }
      const states = (await stream).filter((e) => e.event === 'state');
      assert.ok(states.length >= 2 && states.length <= 4, `throttled: ${states.length} state messages`);

      // A stop with a stream open does not hang.
      const open = readEvents(`${base}/api/events`, () => false, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      await server.close();
      await open;
      assert.ok(Date.now() - started < 2000, 'the stream ended with the server');
    } finally {
      await server.close();
    }
  }));

  test('the redis backend: the hosts of the fleet and the queue counts in /api/state', { skip: REDIS_SKIP }, () => withHome({}, async ({ paths }) => {
    const redis = await startRedis();
    /** @type {import('../../dist/config/load.js').QueueSettings} */
    const queue = { backend: 'redis', redisUrl: redis.url, name: `web-${process.pid}`, lockMs: 30_000, stalledIntervalMs: 30_000, maxStalled: 1, hostId: 'h1' };
    const web = createWebDashboard({ paths, queue });
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0 }, createDaemonMetrics({ processMetrics: false }), () => ({ ok: true }), web);
    try {
      const conn = await connectForCommand(queue);
      const now = new Date().toISOString();
      await publishHost(conn, queue.name, { host_id: 'host-<b>a</b>', pid: 1, home: paths.home, started_at: now, last_seen: now, max_concurrent_workers: 4, slots_used: 1, leases: 1, dispatch_paused: false, workers: [] }, 30);
      conn.disconnect();
      const state = /** @type {import('../../dist/ops/web/server.js').WebState} */ (await (await fetch(`http://127.0.0.1:${server.port}/api/state`)).json());
      assert.equal(state.fleet_problem, null);
      assert.deepEqual(state.fleet?.hosts.map((h) => [h.host_id, h.state]), [['host-<b>a</b>', 'alive']]);
      assert.equal(state.fleet?.queue.waiting, 0);
    } finally {
      await server.close();
      await redis.stop();
    }
  }));

  test('the page builds its DOM from text only', () => {
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function']) {
      assert.equal(APP_JS.includes(sink), false, `the script never uses ${sink}`);
    }
    assert.doesNotMatch(PAGE_HTML, /<script>|\son[a-z]+=|https?:\/\//, 'no inline script or handler, no external asset');
  });
});

describe('the web dashboard in a browser', () => {
  test('a worker appears, its health changes and its log line arrives; HTML in data stays text', async (t) => {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) assert.fail(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
      t.skip(`${CHROMIUM} is not installed (apt-get install chromium)`);
      return;
    }
    const types = { web: { command: fixture('web-agent.sh', 'go', JSON.stringify(XSS)), stop_grace_seconds: 1, startup_grace_seconds: 60, checkin_timeout_seconds: 60 } };
    // The browser starts while the daemon does (both take seconds on a loaded machine).
    const launching = import('playwright-core').then(({ chromium }) => chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }));
    try {
      await withHome({ types }, async ({ home, startDaemon }) => {
        const created = await run(home, ['create-task', '--description', `look ${XSS}`, '--worker-type', 'web']);
        assert.equal(created.code, 0, created.stderr);
        const workerId = `worker-web-${created.stdout.trim().slice(5)}`;
        await startDaemon({ env: { PM_METRICS_PORT: '0' } });
        const { port } = await waitFor(() => pmState(home).pm_daemon.metrics, { what: 'the listener in pm-state.json' });
        const browser = await launching;
        const page = await browser.newPage();
        /** @type {string[]} */
        const refused = [];
        page.on('console', (m) => {
          if (m.type() === 'error') refused.push(m.text());
        });
        await page.goto(`http://127.0.0.1:${port}/`);
        const row = page.locator(`#workers tr[data-worker-id="${workerId}"]`);
        await row.waitFor({ timeout: 10_000 });
        assert.equal(await row.locator('.badge').textContent(), 'starting');
        await row.click();
        await page.locator('#log-state', { hasText: 'following' }).waitFor({ timeout: 5000 });
        writeFileSync(join(home, 'go'), '');
        await page.locator('#log', { hasText: 'the worker says <b>hello</b> after go' }).waitFor({ timeout: 10_000 });
        await row.locator('.badge', { hasText: 'healthy' }).waitFor({ timeout: 10_000 });
        await page.locator('#workers td', { hasText: XSS }).first().waitFor({ timeout: 5000 });
        assert.equal(await row.locator('.desc').textContent(), `look ${XSS}`, 'the description, as text');
        assert.equal(await page.locator('img, b').count(), 0, 'no element from the data');
        assert.equal(await page.evaluate('typeof window.__xss'), 'undefined');
        assert.equal(await page.locator('#detail-title').textContent(), `Worker ${workerId}`);
        // The daemon's activity feed: its start of the worker, in the feed and in the worker's detail.
        await page.locator('#activity li', { hasText: 'worker_started' }).first().waitFor({ timeout: 5000 });
        assert.ok((await page.locator('#detail-events li', { hasText: 'worker_started' }).count()) >= 1);
        assert.equal(await page.locator('#hosts-section').isHidden(), true, 'no hosts with the file backend');
        assert.deepEqual(refused, [], 'no script error or CSP refusal');
      });
    } finally {
      await (await launching.catch(() => undefined))?.close();
    }
  });
});
