import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import type { QueueSettings } from '../config/load.js';
import { taskSchema, type Task } from '../contract/task-queue.js';
import { RelayError } from '../errors.js';
import { connectForCommand, displayUrl, requireRedisUrl } from '../fleet/redis.js';
import { BULLMQ_PRIORITY, type TaskQueueBackend } from './backend.js';

/** Completed and failed jobs kept in Redis (the newest); the hosts' specs keep the full record. */
export const JOBS_KEPT = 10_000;

/** A job's data: the task as create-task built it, plus a nonce that tells a repeated create from the first. */
export interface JobData extends Task {
  readonly enqueue_nonce?: string;
}

/** The shared BullMQ queue: each task one job, its id the task id, at most one attempt (restarts are local). */
export async function openRedisTaskQueue(settings: QueueSettings): Promise<TaskQueueBackend> {
  const url = requireRedisUrl(settings);
  // The command's own connection, shared with the queue: it fails fast (one line) when Redis is not there,
  // rather than queueing commands for a reconnect; Queue.close() leaves it to us.
  const redis = await connectForCommand(settings);
  const queue = new Queue(settings.name, { connection: redis });
  queue.on('error', () => undefined);
  const backend: TaskQueueBackend = {
    kind: 'redis',
    async enqueueMany(tasks) {
      const results = [];
      for (const task of tasks) results.push(await backend.enqueue(task));
      return results;
    },
    async enqueue(task) {
      const nonce = randomBytes(8).toString('hex');
      const data: JobData = { ...task, enqueue_nonce: nonce };
      try {
        // BullMQ keeps the first job of an id: adding it again changes nothing.
        await queue.add(task.worker_type, data, {
          jobId: task.task_id,
          priority: BULLMQ_PRIORITY[task.priority],
          attempts: 1,
          removeOnComplete: { count: JOBS_KEPT },
          removeOnFail: { count: JOBS_KEPT },
        });
        const stored = await queue.getJob(task.task_id);
        const storedData = stored?.data as JobData | undefined;
        const created = storedData?.enqueue_nonce === nonce;
        const parsed = taskSchema.safeParse(storedData);
        return {
          task: created || !parsed.success ? task : parsed.data,
          created,
          where: { backend: 'redis', queue: settings.name, job_id: task.task_id, redis_url: displayUrl(url) },
        };
      } catch (error) {
        throw new RelayError('REDIS_UNAVAILABLE', `could not queue task ${task.task_id} on redis at ${displayUrl(url)}: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
    async close() {
      await queue.close().catch(() => undefined);
      redis.disconnect();
    },
  };
  return backend;
}
