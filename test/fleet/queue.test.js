// The redis queue backend with real daemons as hosts: tasks spread by priority, a host lost, fencing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { coord, readJson, waitFor } from '../helpers/home.js';
import { events } from '../helpers/daemon.js';
import { startRedis, REDIS_SKIP } from '../helpers/redis.js';
import { withHome } from '../helpers/scope.js';
import { createTask, FLEET_TYPES, fleetConfig, jobState, openQueue, queueName } from './support.js';

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
        const created = await createTask(scope.home, `task-p${i}`, { priority });
        assert.deepEqual(created.queue, { backend: 'redis', queue: name, job_id: `task-p${i}`, redis_url: redis.url });
        assert.equal(created.created, true);
      }
      // A repeated create is not a second task.
      assert.equal((await createTask(homeB, 'task-p0', { priority: 'low' })).created, false);
      assert.equal((await queue.getJobCounts('prioritized')).prioritized, 4);
      await Promise.all([scope.startDaemon(), scope.startDaemon({ home: homeB })]);
      await waitFor(async () => (await Promise.all(priorities.map((_, i) => jobState(queue, `task-p${i}`)))).every((s) => s === 'completed'), { what: 'every job completed', timeoutMs: 30_000, intervalMs: 200 });
      const leased = [...events(scope.home), ...events(homeB)].filter((e) => e.event === 'task_leased').sort((a, b) => a.timestamp.localeCompare(b.timestamp));
      assert.equal(leased.length, 4, 'each task leased once');
      const byTask = Object.fromEntries(priorities.map((p, i) => [`task-p${i}`, p]));
      assert.deepEqual(new Set(leased.slice(0, 2).map((e) => byTask[e.task_id])), new Set(['critical', 'high']), 'the two most urgent first');
      assert.deepEqual(leased.slice(2).map((e) => byTask[e.task_id]), ['medium', 'low']);
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
});
