// Two or more daemons as hosts of one fleet, on a throwaway redis-server.
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { loadQueueSettings } from '../../dist/config/load.js';
import { openTaskQueue } from '../../dist/queue/backend.js';
import { openHome } from '../../dist/store/home.js';
import { buildTask } from '../../dist/store/tasks.js';
import { FIXTURES, run } from '../helpers/home.js';
import { envOf, pidsWithEnv } from '../helpers/processes.js';

/**
 * A home's pm-daemon.json for a host of the fleet on `url` (a short lock, so host losses show within seconds).
 * @param {string} url @param {string} name @param {string} hostId @param {Record<string, unknown>} [extra]
 */
export function fleetConfig(url, name, hostId, extra = {}) {
  return { queue: { backend: 'redis', redis_url: url, name, lock_seconds: 2, stalled_interval_seconds: 1, max_stalled: 3 }, host_id: hostId, max_concurrent_workers: 1, ...extra };
}

/** Worker types: `job` runs for 2 s and exits 0, `job4` for 4 s; `long` runs until stopped. */
export const FLEET_TYPES = {
  job: { command: ['sh', join(FIXTURES, 'run-for.sh'), '{worker_id}', '2'], stop_grace_seconds: 1 },
  job4: { command: ['sh', join(FIXTURES, 'run-for.sh'), '{worker_id}', '4'], stop_grace_seconds: 1 },
  long: { command: ['sh', join(FIXTURES, 'forever.sh'), '{worker_id}'], stop_grace_seconds: 1 },
};

/** A unique queue name per test. */
export const queueName = () => `relay-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * Queues a task through the CLI (create-task against home's settings); returns its id.
 * @param {string} home @param {string} taskId @param {{ priority?: string, type?: string }} [options]
 */
export async function createTask(home, taskId, { priority = 'medium', type = 'job' } = {}) {
  const result = await run(home, ['create-task', '--description', `task ${taskId}`, '--priority', priority, '--worker-type', type, '--task-id', taskId, '--json']);
  if (result.code !== 0) throw new Error(`create-task failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/**
 * Queues a task in-process, through the same backend create-task uses (src/queue/redis.ts), without the
 * cost of starting a CLI process; returns what enqueue returned.
 * @param {string} home @param {string} taskId @param {{ priority?: 'critical' | 'high' | 'medium' | 'low', type?: string }} [options]
 */
export async function queueTask(home, taskId, { priority = 'medium', type = 'job' } = {}) {
  const paths = openHome(home);
  const backend = await openTaskQueue(paths, loadQueueSettings(paths, {}));
  try {
    return await backend.enqueue({ ...buildTask({ description: `task ${taskId}`, priority, workerType: type, metadata: {} }), task_id: taskId });
  } finally {
    await backend.close();
  }
}

/** A BullMQ queue handle for a test to read job states; close it after. @param {number} port @param {string} name */
export function openQueue(port, name) {
  const queue = new Queue(name, { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null } });
  queue.on('error', () => undefined);
  return queue;
}

/** A job's state ('completed', 'failed', 'active', ...), or 'missing'. @param {Queue} queue @param {string} id */
export async function jobState(queue, id) {
  const job = await queue.getJob(id);
  return job === undefined ? 'missing' : await job.getState();
}

/** SIGKILLs every process group of workers running for home (their shims carry COMMIT_RELAY_HOME). @param {string} home */
export function killWorkersOf(home) {
  for (const pid of liveWorkerPids(home)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/** Live pids of home's workers (they carry a run token; the daemon does not). @param {string} home */
export const liveWorkerPids = (home) => pidsWithEnv('COMMIT_RELAY_HOME', home).filter((pid) => envOf(pid)?.COMMIT_RELAY_RUN_ID !== undefined);
