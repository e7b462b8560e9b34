// Redis trouble under running daemons: an outage, an evicting server, a bad URL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { coord, readJson, run, waitFor } from '../helpers/home.js';
import { events, morePasses, pmState } from '../helpers/daemon.js';
import { freePort, startRedis, REDIS_SKIP } from '../helpers/redis.js';
import { withHome } from '../helpers/scope.js';
import { snapshotTree as snapshot } from '../helpers/snapshots.js';
import { queueTask, FLEET_TYPES, fleetConfig, jobState, killWorkersOf, openQueue, queueName } from './support.js';

describe('redis trouble', { skip: REDIS_SKIP }, () => {
  /** @type {import('../helpers/redis.js').RedisServer} */
  let redis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  test('redis down past the lock: the daemon keeps supervising, fences its run, logs it once, and takes the task again when redis is back', async () => {
    const name = queueName();
    await withHome({ types: FLEET_TYPES, daemonConfig: fleetConfig(redis.url, name, 'host-a') }, async (scope) => {
      const queue = openQueue(redis.port, name);
      scope.defer(() => queue.close());
      await queueTask(scope.home, 'task-outage', { type: 'long' });
      const daemon = await scope.startDaemon();
      const started = await waitFor(() => events(scope.home).find((e) => e.event === 'worker_started'), { what: 'the task started', timeoutMs: 15_000 });
      redis.cli('SAVE');
      await redis.kill();
      await waitFor(() => events(scope.home).some((e) => e.event === 'lease_lost'), { what: 'the run fenced once the lock time passed', timeoutMs: 15_000, intervalMs: 50 });
      await morePasses(scope.home, 3);
      assert.equal(daemon.child.exitCode, null, 'the daemon runs on');
      assert.equal(events(scope.home).filter((e) => e.event === 'redis_unavailable').length, 1, 'logged once');
      // The health check says so (exit 1: running, but not taking tasks); the dashboard too.
      const health = await run(scope.home, ['health-check', '--json']);
      assert.equal(health.code, 1, health.stdout);
      assert.equal(JSON.parse(health.stdout).state, 'redis_unavailable');
      assert.match((await run(scope.home, ['daemon-monitor'])).stdout, /running, redis unavailable/);
      await redis.launch();
      await waitFor(() => events(scope.home).some((e) => e.event === 'redis_available'), { what: 'redis back', timeoutMs: 15_000 });
      // The job was still active, its lock expired: the stall check puts it back and a host takes it again.
      const again = await waitFor(() => events(scope.home).find((e) => e.event === 'worker_started' && e.worker_id !== started.worker_id), { what: 'the task to run again', timeoutMs: 20_000, intervalMs: 100 });
      assert.equal(again.task_id, 'task-outage');
      assert.equal(await jobState(queue, 'task-outage'), 'active', (await queue.getJob('task-outage'))?.failedReason);
      assert.match(readJson(coord(scope.home, 'worker-specs', 'failed', `${started.worker_id}.json`)).error, /lease lost/);
      const healthy = await run(scope.home, ['health-check']);
      assert.equal(healthy.code, 0, healthy.stdout);
      assert.match(healthy.stdout, /host host-a of queue/);
    });
  });

  test('a redis that may evict keys is refused at start with one line', async () => {
    const evicting = await startRedis({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    try {
      await withHome({ types: FLEET_TYPES, daemonConfig: fleetConfig(evicting.url, queueName(), 'host-a') }, async (scope) => {
        const daemon = scope.spawnDaemon();
        const exit = await daemon.exited;
        assert.notEqual(exit.code, 0);
        assert.match(exit.stderr(), /maxmemory-policy "allkeys-lru".*noeviction/);
        assert.equal(exit.stderr().trim().split('\n').length, 1, exit.stderr());
      });
    } finally {
      await evicting.stop();
    }
  });

  test('a bad redis URL: one line naming it, a non-zero exit, nothing changed', async () => {
    await withHome({ types: FLEET_TYPES }, async (scope) => {
      const before = snapshot(scope.home);
      for (const url of ['http://127.0.0.1:6379', 'redis://127.0.0.1:99999', 'not a url', 'redis://127.0.0.1:6379/x']) {
        const result = await run(scope.home, ['create-task', '--description', 'x', '--worker-type', 'job'], { env: { COMMIT_RELAY_REDIS_URL: url } });
        assert.equal(result.code, 2, `${url}: ${result.stderr}`);
        assert.match(result.stderr, /COMMIT_RELAY_REDIS_URL/);
        assert.equal(result.stderr.trim().split('\n').length, 1);
        const daemon = scope.spawnDaemon({ env: { COMMIT_RELAY_REDIS_URL: url } });
        const exit = await daemon.exited;
        assert.equal(exit.code, 2, exit.stderr());
        assert.match(exit.stderr(), /COMMIT_RELAY_REDIS_URL/);
      }
      // Nothing listening: create-task fails in one line within seconds, queueing nothing.
      const port = await freePort();
      const started = Date.now();
      const down = await run(scope.home, ['create-task', '--description', 'x', '--worker-type', 'job'], { env: { COMMIT_RELAY_REDIS_URL: `redis://127.0.0.1:${port}` } });
      assert.notEqual(down.code, 0);
      assert.match(down.stderr, /unreachable/);
      assert.equal(down.stderr.trim().split('\n').length, 1);
      assert.ok(Date.now() - started < 10_000);
      assert.deepEqual(snapshot(scope.home), before);
    });
  });

  test('a daemon started while redis is out of reach supervises, logs it once, and takes tasks once redis comes up', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const name = queueName();
    await withHome({ types: FLEET_TYPES, daemonConfig: fleetConfig(url, name, 'host-a') }, async (scope) => {
      await scope.startDaemon();
      await waitFor(() => events(scope.home).some((e) => e.event === 'redis_unavailable'), { what: 'redis_unavailable' });
      assert.equal(pmState(scope.home).queue.redis, 'unavailable');
      const late = await startRedis({ port });
      scope.defer(() => late.stop());
      await waitFor(() => events(scope.home).some((e) => e.event === 'redis_available'), { what: 'redis_available', timeoutMs: 15_000 });
      assert.equal(events(scope.home).filter((e) => e.event === 'redis_unavailable').length, 1, 'logged once');
      await queueTask(scope.home, 'task-late');
      const queue = openQueue(port, name);
      scope.defer(() => queue.close());
      await waitFor(async () => (await jobState(queue, 'task-late')) === 'completed', { what: 'the task to run', timeoutMs: 20_000, intervalMs: 100 });
    });
  });

  test('a task fails once it has lost more hosts than max_stalled', async () => {
    const name = queueName();
    const config = (/** @type {string} */ host) => fleetConfig(redis.url, name, host, { queue: { backend: 'redis', redis_url: redis.url, name, lock_seconds: 2, stalled_interval_seconds: 1, max_stalled: 0 } });
    await withHome({ types: FLEET_TYPES, daemonConfig: config('host-a') }, async (scope) => {
      const homeB = scope.makeHome(FLEET_TYPES, { daemonConfig: config('host-b') });
      const queue = openQueue(redis.port, name);
      scope.defer(() => queue.close());
      await queueTask(scope.home, 'task-unlucky', { type: 'long' });
      const a = await scope.startDaemon();
      await waitFor(() => events(scope.home).some((e) => e.event === 'worker_started'), { what: 'the task started on host-a', timeoutMs: 15_000 });
      a.child.kill('SIGKILL');
      killWorkersOf(scope.home);
      await a.exited;
      await scope.startDaemon({ home: homeB });
      await waitFor(async () => (await jobState(queue, 'task-unlucky')) === 'failed', { what: 'the task to fail after one host loss', timeoutMs: 20_000, intervalMs: 100 });
      assert.match((await queue.getJob('task-unlucky'))?.failedReason ?? '', /stalled/);
      assert.deepEqual(events(homeB).filter((e) => e.event === 'task_leased'), [], 'host-b never ran it');
    });
  });
});
