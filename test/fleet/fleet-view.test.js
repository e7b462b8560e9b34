// The fleet view against a real redis-server: hosts alive, lost and stopped, the shared queue's counts, and
// daemon-monitor --fleet (text, --json, the file backend, an unreachable Redis).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { publishHost, readFleet, removeHost, pruneHosts } from '../../dist/fleet/hosts.js';
import { fleetKeys, redisOptionsFor } from '../../dist/fleet/redis.js';
import { renderFleet } from '../../dist/ops/fleet-render.js';
import { makeHome, removeHome, run, waitFor } from '../helpers/home.js';
import { freePort, REDIS_SKIP, startRedis } from '../helpers/redis.js';

const NAME = 'relay-test';

/** @param {string} id @param {Partial<import('../../dist/fleet/hosts.js').HostSummary>} [fields] @returns {import('../../dist/fleet/hosts.js').HostSummary} */
const summary = (id, fields = {}) => ({
  host_id: id,
  pid: 4242,
  home: `/srv/${id}`,
  started_at: new Date(Date.now() - 60_000).toISOString(),
  last_seen: new Date().toISOString(),
  max_concurrent_workers: 4,
  slots_used: 1,
  leases: 1,
  dispatch_paused: false,
  workers: [{ worker_id: `worker-${id}-1`, task_id: `task-${id}`, worker_type: 'impl', status: 'running', health: 'healthy', pid: 999, restart_count: 2, job_id: '7' }],
  ...fields,
});

describe('fleet view', { skip: REDIS_SKIP }, () => {
  test('hosts alive, lost and stopped; queue counts; daemon-monitor --fleet text and --json', async () => {
    const server = await startRedis();
    const redis = new Redis(redisOptionsFor(server.url));
    const queue = new Queue(NAME, { connection: redis });
    const home = makeHome();
    try {
      await publishHost(redis, NAME, summary('host-b', { workers: [] }), 60);
      await publishHost(redis, NAME, summary('host-a'), 1);
      await publishHost(redis, NAME, summary('host-c', { workers: [] }), 60);
      await removeHost(redis, NAME, 'host-c');
      await queue.add('task', { n: 1 });
      await queue.add('task', { n: 2 }, { priority: 5 });
      await queue.add('task', { n: 3 }, { priority: 1 });
      await queue.add('task', { n: 4 }, { delay: 60_000 });
      await queue.pause();
      await waitFor(async () => (await redis.exists(fleetKeys(NAME).host('host-a'))) === 0, { what: 'host-a key to expire', timeoutMs: 5000, intervalMs: 100 });

      const view = await readFleet(redis, queue, NAME, Date.now());
      assert.deepEqual(view.hosts.map((h) => [h.host_id, h.state]), [['host-a', 'lost'], ['host-b', 'alive'], ['host-c', 'stopped']]);
      assert.deepEqual(view.queue, { name: NAME, paused: true, waiting: 3, active: 0, delayed: 1, failed: 0, completed: 0 });
      assert.equal(view.workers.length, 1);
      assert.equal(view.workers[0]?.host_state, 'lost');
      assert.equal(typeof view.hosts[2]?.stopped_at, 'string');

      const env = { COMMIT_RELAY_REDIS_URL: server.url };
      // COMMIT_RELAY_REDIS_URL alone: the default queue name, on which nothing has published.
      const unnamed = await run(home, ['daemon-monitor', '--fleet'], { env });
      assert.equal(unnamed.code, 0, unnamed.stderr);
      assert.match(unnamed.stdout, /^queue {4}commit-relay running {2}waiting 0 /m);
      assert.match(unnamed.stdout, /^no hosts have published/m);
      const named = await run(makeHomeFor(server.url), ['daemon-monitor', '--fleet']);
      assert.equal(named.code, 0, named.stderr);
      assert.match(named.stdout, /^HOST\s+STATE\s+LAST SEEN\s+SLOTS\s+WORKERS/m);
      assert.match(named.stdout, /queue {4}relay-test paused {2}waiting 3 {2}active 0 {2}delayed 1 {2}failed 0 {2}completed 0/);
      assert.match(named.stdout, /^host-a\s+lost\s+\d+s ago\s+1\/4\s+1 .*LOST: no heartbeat/m);
      assert.match(named.stdout, /^host-b\s+alive\s+\d+s ago\s+1\/4\s+0/m);
      assert.match(named.stdout, /^host-c\s+stopped\s/m);
      assert.match(named.stdout, /^HOST\s+WORKER\s+TASK\s+TYPE\s+STATUS\s+HEALTH\s+PID\s+RESTARTS/m);
      assert.match(named.stdout, /^host-a\s+worker-host-a-1\s+task-host-a\s+impl\s+running\s+healthy\s+999\s+2\s+host lost/m);
      // eslint-disable-next-line no-control-regex -- no escape sequence may reach the terminal
      assert.doesNotMatch(named.stdout, /\u001b/);

      const json = await run(makeHomeFor(server.url), ['daemon-monitor', '--fleet', '--json']);
      assert.equal(json.code, 0, json.stderr);
      const parsed = JSON.parse(json.stdout);
      assert.deepEqual(parsed.hosts.map((/** @type {any} */ h) => h.state), ['lost', 'alive', 'stopped']);
      assert.equal(parsed.queue.waiting, 3);
      assert.equal(parsed.workers[0].worker_id, 'worker-host-a-1');
    } finally {
      await queue.close();
      redis.disconnect();
      await server.stop();
      removeHome(home);
      for (const h of extraHomes.splice(0)) removeHome(h);
    }
  });

  test('a host unseen for over 24 h is pruned; a bad entry is a problem line; ids are printed safely', async () => {
    const server = await startRedis();
    const redis = new Redis(redisOptionsFor(server.url));
    const queue = new Queue(NAME, { connection: redis });
    try {
      const old = new Date(Date.now() - 25 * 3600_000).toISOString();
      await redis.hset(fleetKeys(NAME).hosts, 'old', JSON.stringify(summary('old', { last_seen: old })));
      await redis.hset(fleetKeys(NAME).hosts, 'recent', JSON.stringify(summary('recent', { last_seen: new Date(Date.now() - 23 * 3600_000).toISOString() })));
      await redis.hset(fleetKeys(NAME).hosts, 'junk\u001b[31m', '{"not": "a host"}');
      assert.deepEqual(await pruneHosts(redis, NAME, Date.now()), ['old']);
      await redis.hset(fleetKeys(NAME).hosts, 'old', JSON.stringify(summary('old', { last_seen: old })));
      // A connection's first publish prunes too; the next ones within 10 minutes do not.
      const evilWorker = { ...summary('x').workers[0], worker_id: 'w', status: 'run\u001b]0;pwn\u0007\u009b2J' };
      await publishHost(redis, NAME, summary('evil', { workers: [/** @type {any} */ (evilWorker)] }), 60);
      assert.equal(await redis.hexists(fleetKeys(NAME).hosts, 'old'), 0);
      await redis.hset(fleetKeys(NAME).hosts, 'old', JSON.stringify(summary('old', { last_seen: old })));
      await publishHost(redis, NAME, summary('evil', { workers: [/** @type {any} */ (evilWorker)] }), 60);
      assert.equal(await redis.hexists(fleetKeys(NAME).hosts, 'old'), 1);
      await redis.hdel(fleetKeys(NAME).hosts, 'old');
      const view = await readFleet(redis, queue, NAME, Date.now());
      assert.deepEqual(view.hosts.map((h) => h.host_id), ['evil', 'recent']);
      assert.equal(view.problems.length, 1);
      const text = renderFleet(view);
      // eslint-disable-next-line no-control-regex -- no control character but the line breaks may reach the terminal
      assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      assert.match(text, /run\\u001b\]0;pwn\\u0007\\u009b2J/);
      assert.match(text, /! host junk\\u001b\[31m: its entry is not a host summary/);
    } finally {
      await queue.close();
      redis.disconnect();
      await server.stop();
    }
  });

  test('--fleet with the file backend is a usage error; an unreachable Redis is one line, fast', async () => {
    const home = makeHome();
    try {
      const file = await run(home, ['daemon-monitor', '--fleet'], { env: { COMMIT_RELAY_REDIS_URL: '' } });
      assert.equal(file.code, 2);
      assert.equal(file.stderr.trim().split('\n').length, 1, file.stderr);
      assert.match(file.stderr, /--fleet needs the redis queue backend/);

      const port = await freePort();
      const started = Date.now();
      const down = await run(home, ['daemon-monitor', '--fleet', '--json'], { env: { COMMIT_RELAY_REDIS_URL: `redis://127.0.0.1:${port}` }, timeoutMs: 15_000 });
      assert.equal(down.code, 1);
      assert.equal(down.signal, null);
      assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`);
      assert.equal(down.stderr.trim().split('\n').length, 1, down.stderr);
      assert.match(down.stderr, new RegExp(`redis://127\\.0\\.0\\.1:${port}.*unreachable`));
      assert.equal(down.stdout, '');
    } finally {
      removeHome(home);
    }
  });
});

/** @type {string[]} */
const extraHomes = [];
/** A home whose pm-daemon.json names the test queue on this Redis. @param {string} url */
function makeHomeFor(url) {
  const home = makeHome(undefined, { daemonConfig: { queue: { backend: 'redis', redis_url: url, name: NAME } } });
  extraHomes.push(home);
  return home;
}
