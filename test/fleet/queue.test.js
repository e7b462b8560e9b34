// The redis queue backend with real daemons as hosts: tasks spread by priority, a fleet-wide pause, recover-task, hosts that differ in worker types.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { coord, FIXTURES, readJson, run, waitFor } from '../helpers/home.js';
import { events, morePasses } from '../helpers/daemon.js';
import { startRedis, REDIS_SKIP } from '../helpers/redis.js';
import { withHome } from '../helpers/scope.js';
import { createTask, queueTask, FLEET_TYPES, fleetConfig, jobState, openQueue, queueName } from './support.js';

describe('the redis queue backend', { skip: REDIS_SKIP }, () => {
  /** @type {import('../helpers/redis.js').RedisServer} */
  let redis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  test('tasks spread over two hosts in priority order, each completing its job', async () => {
    const name = queueName();
    await withHome({ types: FLEET_TYPES, daemonConfig: fleetConfig(redis.url, name, 'host-a') }, async (scope) => {
      const homeB = scope.makeHome(FLEET_TYPES, { daemonConfig: fleetConfig(redis.url, name, 'host-b') });
      const queue = openQueue(redis.port, name);
      scope.defer(() => queue.close());
      const priorities = ['low', 'medium', 'critical', 'high'];
      for (const [i, priority] of priorities.entries()) {
        // The first through the CLI (what --json says), the others in-process through the same backend.
        if (i === 0) {
          const created = await createTask(scope.home, `task-p${i}`, { priority });
          assert.deepEqual(created.queue, { backend: 'redis', queue: name, job_id: `task-p${i}`, redis_url: redis.url });
          assert.equal(created.created, true);
        } else {
          assert.equal((await queueTask(scope.home, `task-p${i}`, { priority: /** @type {any} */ (priority) })).created, true);
        }
      }
      // A repeated create is not a second task.
      assert.equal((await createTask(homeB, 'task-p0', { priority: 'low' })).created, false);
      assert.equal((await queue.getJobCounts('prioritized')).prioritized, 4);
      await Promise.all([scope.startDaemon(), scope.startDaemon({ home: homeB })]);
      await waitFor(async () => (await Promise.all(priorities.map((_, i) => jobState(queue, `task-p${i}`)))).every((s) => s === 'completed'), { what: 'every job completed', timeoutMs: 30_000, intervalMs: 200 });
      const leased = [...events(scope.home), ...events(homeB)].filter((e) => e.event === 'task_leased').sort((a, b) => a.timestamp.localeCompare(b.timestamp));
      assert.equal(leased.length, 4, 'each task leased once');
      // The order the queue handed the jobs out: the "active" entries its hand-out script adds to the queue's event
      // stream, ordered by the ids Redis gives them. (The hosts' task_leased events come later, each when its daemon got
      // round to it, so their timestamps can invert two jobs handed out in the same instant to two hosts.)
      const client = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      const stream = await client.xrange(queue.keys.events, '-', '+').finally(() => client.disconnect());
      const handedOut = [];
      for (const [, fields] of stream) {
        const field = (/** @type {string} */ key) => fields[fields.indexOf(key) + 1];
        if (field('event') === 'active' && !handedOut.includes(field('jobId'))) handedOut.push(field('jobId'));
      }
      const byTask = Object.fromEntries(priorities.map((p, i) => [`task-p${i}`, p]));
      assert.deepEqual(handedOut.map((id) => byTask[id]), ['critical', 'high', 'medium', 'low'], 'handed out in priority order');
      // In each host's log, a task's lease comes before its worker's start.
      for (const home of [scope.home, homeB]) {
        const log = events(home);
        for (const lease of log.filter((e) => e.event === 'task_leased')) {
          assert.ok(log.indexOf(lease) < log.findIndex((e) => e.event === 'worker_started' && e.worker_id === lease.worker_id), `${lease.worker_id}: leased before started`);
        }
      }
      const hosts = new Set(leased.map((e) => e.data.host_id));
      assert.deepEqual(hosts, new Set(['host-a', 'host-b']), 'both hosts took tasks');
      // Each host's spec completed locally, carrying its lease.
      for (const e of leased) {
        const home = e.data.host_id === 'host-a' ? scope.home : homeB;
        const spec = readJson(coord(home, 'worker-specs', 'completed', `${e.worker_id}.json`));
        assert.equal(spec.lease.job_id, e.task_id);
        assert.equal(spec.lease.host_id, e.data.host_id);
      }
      const job = await queue.getJob('task-p2');
      assert.equal(job?.returnvalue.host_id, leased.find((e) => e.task_id === 'task-p2')?.data.host_id);
    });
  });

  test('pause-dispatch of every type pauses the fleet: no host takes a task until resume-dispatch', async () => {
    const name = queueName();
    await withHome({ types: FLEET_TYPES, daemonConfig: fleetConfig(redis.url, name, 'host-a') }, async (scope) => {
      const homeB = scope.makeHome(FLEET_TYPES, { daemonConfig: fleetConfig(redis.url, name, 'host-b') });
      const queue = openQueue(redis.port, name);
      scope.defer(() => queue.close());
      const paused = await run(scope.home, ['pause-dispatch', '--reason', 'provider outage']);
      assert.equal(paused.code, 0, paused.stderr);
      assert.match(paused.stdout, /paused for every host/);
      assert.equal(await queue.isPaused(), true);
      await Promise.all([scope.startDaemon(), scope.startDaemon({ home: homeB })]);
      await queueTask(homeB, 'task-waits');
      // host-b has no pause of its own: only the fleet's queue pause keeps it from the task, pass after pass.
      await Promise.all([morePasses(scope.home, 3), morePasses(homeB, 3)]);
      assert.equal(await jobState(queue, 'task-waits'), 'prioritized');
      assert.deepEqual([...events(scope.home), ...events(homeB)].filter((e) => e.event === 'task_leased'), []);
      const resumed = await run(scope.home, ['resume-dispatch']);
      assert.equal(resumed.code, 0, resumed.stderr);
      await waitFor(async () => (await jobState(queue, 'task-waits')) === 'completed', { what: 'the task to run once resumed', timeoutMs: 20_000, intervalMs: 100 });
    });
  });

  test('recover-task queues a failed task again on the shared queue', async () => {
    const name = queueName();
    await withHome({ types: { ...FLEET_TYPES, fails: { command: ['sh', '-c', 'exit 3'], max_restarts: 0, stop_grace_seconds: 1 } }, daemonConfig: fleetConfig(redis.url, name, 'host-a') }, async (scope) => {
      const queue = openQueue(redis.port, name);
      scope.defer(() => queue.close());
      await queueTask(scope.home, 'task-fails', { type: 'fails' });
      await scope.startDaemon();
      await waitFor(async () => (await jobState(queue, 'task-fails')) === 'failed', { what: 'the job to fail', timeoutMs: 15_000, intervalMs: 100 });
      const workerId = events(scope.home).find((e) => e.event === 'task_leased')?.worker_id;
      const recovered = await run(scope.home, ['recover-task', String(workerId)]);
      assert.equal(recovered.code, 0, recovered.stderr);
      const newId = recovered.stdout.trim();
      const job = await queue.getJob(newId);
      assert.equal(job?.data.metadata.retry_of, 'task-fails');
      assert.equal(job?.opts.priority, 2, 'recovered tasks are high priority');
    });
  });

  test('a task of a type one host does not define is left for a host that does', async () => {
    const name = queueName();
    const onlyB = { ...FLEET_TYPES, special: { command: ['sh', join(FIXTURES, 'run-for.sh'), '{worker_id}', '1'], stop_grace_seconds: 1 } };
    await withHome({ types: FLEET_TYPES, daemonConfig: fleetConfig(redis.url, name, 'host-a') }, async (scope) => {
      const homeB = scope.makeHome(onlyB, { daemonConfig: fleetConfig(redis.url, name, 'host-b') });
      const queue = openQueue(redis.port, name);
      scope.defer(() => queue.close());
      await queueTask(homeB, 'task-special', { type: 'special' });
      await scope.startDaemon();
      await waitFor(() => events(scope.home).some((e) => e.event === 'daemon_warning' && e.data.warning === 'unknown_worker_type'), { what: 'host-a to leave the task', timeoutMs: 15_000 });
      assert.equal(await jobState(queue, 'task-special'), 'delayed');
      await scope.startDaemon({ home: homeB });
      // Both hosts compete for it every 3 s; host-a always puts it back, so host-b gets it within a few rounds.
      await waitFor(async () => (await jobState(queue, 'task-special')) === 'completed', { what: 'host-b to run it', timeoutMs: 45_000, intervalMs: 200 });
      assert.equal((await queue.getJob('task-special'))?.returnvalue.host_id, 'host-b');
    });
  });

  test('a timed fleet pause (pause-dispatch --until) ends by itself: a daemon resumes the queue at the time', async () => {
    const name = queueName();
    await withHome({ types: FLEET_TYPES, daemonConfig: fleetConfig(redis.url, name, 'host-a') }, async (scope) => {
      const homeB = scope.makeHome(FLEET_TYPES, { daemonConfig: fleetConfig(redis.url, name, 'host-b') });
      const queue = openQueue(redis.port, name);
      scope.defer(() => queue.close());
      const until = new Date(Date.now() + 4000).toISOString();
      const paused = await run(scope.home, ['pause-dispatch', '--until', until]);
      assert.equal(paused.code, 0, paused.stderr);
      assert.equal(await queue.isPaused(), true);
      // host-b has no pause of its own, only the fleet's.
      await scope.startDaemon({ home: homeB });
      await queueTask(homeB, 'task-later');
      await waitFor(async () => (await jobState(queue, 'task-later')) === 'completed', { what: 'the task to run after the pause', timeoutMs: 30_000, intervalMs: 100 });
      const leased = events(homeB).find((e) => e.event === 'task_leased');
      assert.ok(Date.parse(leased.timestamp) >= Date.parse(until) - 100, `leased at ${leased.timestamp}, paused until ${until}`);
      const resumed = events(homeB).filter((e) => e.event === 'dispatch_resumed' && e.data.scope === 'fleet');
      assert.equal(resumed.length, 1);
      assert.equal(resumed[0].data.until, until);
      assert.equal(await queue.isPaused(), false);
    });
  });
});
