// Hosts of a fleet lost, frozen and restarted: failover, fencing, a lease kept across a quick daemon restart.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { existsSync } from 'node:fs';
import { coord, readJson, run, waitFor } from '../helpers/home.js';
import { isAlive } from '../helpers/processes.js';
import { events, pmState } from '../helpers/daemon.js';
import { startRedis, REDIS_SKIP } from '../helpers/redis.js';
import { withHome } from '../helpers/scope.js';
import { queueTask, FLEET_TYPES, fleetConfig, jobState, killWorkersOf, liveWorkerPids, openQueue, queueName } from './support.js';

describe('hosts of the fleet', { skip: REDIS_SKIP }, () => {
  /** @type {import('../helpers/redis.js').RedisServer} */
  let redis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  test('a host killed with its workers: its task runs again on the other host, and the dead host never restarts it', async () => {
    const name = queueName();
    await withHome({ types: FLEET_TYPES, daemonConfig: fleetConfig(redis.url, name, 'host-a') }, async (scope) => {
      const homeB = scope.makeHome(FLEET_TYPES, { daemonConfig: fleetConfig(redis.url, name, 'host-b') });
      const queue = openQueue(redis.port, name);
      scope.defer(() => queue.close());
      await queueTask(scope.home, 'task-moves', { type: 'job4' });
      const a = await scope.startDaemon();
      const started = await waitFor(() => events(scope.home).find((e) => e.event === 'worker_started'), { what: 'the task started on host-a', timeoutMs: 15_000 });
      await scope.startDaemon({ home: homeB });
      // The host dies: its daemon and its workers, at once.
      const killedAt = Date.now();
      a.child.kill('SIGKILL');
      killWorkersOf(scope.home);
      await a.exited;
      const leasedB = await waitFor(() => events(homeB).find((e) => e.event === 'task_leased' && e.task_id === 'task-moves'), { what: 'host-b to take the task', timeoutMs: 20_000, intervalMs: 50 });
      const failoverMs = Date.parse(leasedB.timestamp) - killedAt;
      // lock 2 s + two stall checks of 1 s, and room for a loaded machine.
      assert.ok(failoverMs < 8000, `failover took ${failoverMs} ms`);
      await waitFor(async () => (await jobState(queue, 'task-moves')) === 'completed', { what: 'the task completed on host-b', timeoutMs: 20_000, intervalMs: 100 });
      assert.equal((await queue.getJob('task-moves'))?.returnvalue.host_id, 'host-b');
      // The fleet view lists the dead host as lost (its heartbeat expired), the live one as alive.
      const fleet = await waitFor(
        async () => {
          const shown = await run(homeB, ['daemon-monitor', '--fleet', '--json']);
          const view = JSON.parse(shown.stdout);
          return view.hosts.find((/** @type {{host_id: string, state: string}} */ h) => h.host_id === 'host-a')?.state === 'lost' ? view : false;
        },
        { what: 'host-a listed as lost', timeoutMs: 20_000, intervalMs: 500 },
      );
      assert.equal(fleet.hosts.find((/** @type {{host_id: string}} */ h) => h.host_id === 'host-b').state, 'alive');
      assert.equal(fleet.queue.completed, 1);
      const text = await run(homeB, ['daemon-monitor', '--fleet']);
      assert.match(text.stdout, /host-a\s+lost/);
      // host-a comes back: its spec's lease is gone, so it records lease_lost and never runs the task again.
      await scope.startDaemon();
      const lost = await waitFor(() => events(scope.home).find((e) => e.event === 'lease_lost' && e.worker_id === started.worker_id), { what: 'host-a to record lease_lost', timeoutMs: 15_000 });
      assert.match(lost.data.reason, /lock/);
      await waitFor(() => existsSync(coord(scope.home, 'worker-specs', 'failed', `${started.worker_id}.json`)), { what: 'the stale spec failed on host-a' });
      assert.match(readJson(coord(scope.home, 'worker-specs', 'failed', `${started.worker_id}.json`)).error, /lease lost/);
      assert.equal(events(scope.home).filter((e) => e.event === 'worker_started').length, 1, 'host-a never restarted it');
      assert.equal(await jobState(queue, 'task-moves'), 'completed', "host-a's late failure did not reach the job");
    });
  });

  test('a frozen host (SIGSTOP past its lock) stops its stale worker when it wakes, while the task runs on the other host', async () => {
    const name = queueName();
    await withHome({ types: FLEET_TYPES, daemonConfig: fleetConfig(redis.url, name, 'host-a') }, async (scope) => {
      const homeB = scope.makeHome(FLEET_TYPES, { daemonConfig: fleetConfig(redis.url, name, 'host-b') });
      await queueTask(scope.home, 'task-frozen', { type: 'long' });
      const a = await scope.startDaemon();
      const started = await waitFor(() => events(scope.home).find((e) => e.event === 'worker_started'), { what: 'the task started on host-a', timeoutMs: 15_000 });
      const stalePid = started.data.pid;
      await scope.startDaemon({ home: homeB });
      a.child.kill('SIGSTOP');
      let resumed = false;
      try {
        await waitFor(() => events(homeB).find((e) => e.event === 'worker_started'), { what: 'host-b to run the task', timeoutMs: 20_000, intervalMs: 50 });
      } finally {
        a.child.kill('SIGCONT');
        resumed = true;
      }
      assert.ok(resumed);
      const wokeAt = Date.now();
      const lost = await waitFor(() => events(scope.home).find((e) => e.event === 'lease_lost'), { what: 'host-a to see its lease lost', timeoutMs: 10_000, intervalMs: 20 });
      assert.equal(lost.worker_id, started.worker_id);
      await waitFor(() => !isAlive(stalePid), { what: "host-a's stale worker to be stopped", timeoutMs: 10_000, intervalMs: 20 });
      assert.ok(Date.now() - wokeAt < 6000, `fenced ${Date.now() - wokeAt} ms after waking`);
      // From now on only one live copy: host-b's.
      await waitFor(() => liveWorkerPids(scope.home).length === 0, { what: "nothing of host-a's run left" });
      assert.ok(liveWorkerPids(homeB).length > 0, "host-b's copy runs");
      const failedFile = coord(scope.home, 'worker-specs', 'failed', `${started.worker_id}.json`);
      await waitFor(() => existsSync(failedFile), { what: 'the stale spec failed on host-a' });
      assert.match(readJson(failedFile).error, /lease lost/);
      assert.equal(events(scope.home).filter((e) => e.event === 'worker_started').length, 1, 'host-a did not restart it');
    });
  });

  test('a daemon restarted within the lock time keeps its lease: the worker runs on, its lock renewed with the recorded token', async () => {
    const name = queueName();
    const lockFour = { queue: { backend: 'redis', redis_url: redis.url, name, lock_seconds: 4, stalled_interval_seconds: 1 } };
    await withHome({ types: FLEET_TYPES, daemonConfig: fleetConfig(redis.url, name, 'host-a', lockFour) }, async (scope) => {
      const queue = openQueue(redis.port, name);
      scope.defer(() => queue.close());
      await queueTask(scope.home, 'task-kept', { type: 'long' });
      const first = await scope.startDaemon();
      const started = await waitFor(() => events(scope.home).find((e) => e.event === 'worker_started'), { what: 'the task started', timeoutMs: 15_000 });
      first.child.kill('SIGTERM');
      assert.equal((await first.exited).code, 0);
      await scope.startDaemon({ env: { PM_METRICS_PORT: '0' } });
      const restartedAt = Date.now();
      const spec = readJson(coord(scope.home, 'worker-specs', 'active', `${started.worker_id}.json`));
      // More than a lock time (4 s) after the restart, the lock is still the recorded token's: renewed by the new daemon.
      await waitFor(() => Date.now() - restartedAt > 5000 && pmState(scope.home).queue.leases === 1, { what: 'a lock time to pass', timeoutMs: 20_000, intervalMs: 200 });
      assert.equal(redis.cli('GET', `bull:${name}:task-kept:lock`), spec.lease.token);
      assert.equal(await jobState(queue, 'task-kept'), 'active');
      assert.equal(isAlive(started.data.pid), true, 'the worker runs on');
      assert.deepEqual(events(scope.home).filter((e) => e.event === 'lease_lost'), []);
      assert.equal(events(scope.home).filter((e) => e.event === 'worker_started').length, 1);
      const state = pmState(scope.home);
      assert.equal(state.queue.backend, 'redis');
      assert.equal(state.queue.host_id, 'host-a');
      assert.equal(state.queue.redis, 'available');
      assert.equal(state.monitored_workers[started.worker_id].job_id, 'task-kept');
      // /metrics carries the shared queue's counts.
      const metrics = await (await fetch(`http://127.0.0.1:${state.pm_daemon.metrics.port}/metrics`)).text();
      assert.match(metrics, /^commit_relay_queue_jobs\{state="active"\} 1$/m);
      assert.match(metrics, /^commit_relay_queue_jobs\{state="waiting"\} 0$/m);
      // An operator's fail-worker fails the job too, with the spec's error.
      const failed = await run(scope.home, ['fail-worker', started.worker_id, '--error', 'not needed any more']);
      assert.equal(failed.code, 0, failed.stderr);
      await waitFor(async () => (await jobState(queue, 'task-kept')) === 'failed', { what: 'the job failed with its spec', timeoutMs: 10_000, intervalMs: 100 });
      assert.match((await queue.getJob('task-kept'))?.failedReason ?? '', /not needed any more/);
    });
  });
});
