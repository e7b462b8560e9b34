// Queued tasks made and added in a batch: zod-free (zod alone costs about 150 ms to load), so that
// scripts/create-task.sh, through src/bin/create-task.ts, starts fast. The full schema is loaded only when
// the quick check below cannot vouch for task-queue.json, and then it decides and words the error.
import { isValidId } from '../contract/ids.js';
import { nowIso } from '../contract/now.js';
import { isPlainObject, nonEmptyString, parseObject } from '../contract/quick-checks.js';
import { PRIORITIES, TASK_STATUSES, type Priority } from '../contract/task-fields.js';
import type { Task, TaskQueue } from '../contract/task-queue.js';
import { readTextIfExists, writeJsonSync } from './atomic.js';
import type { HomePaths } from './home.js';
import { TASK_QUEUE_LOCK, withQuickLock } from './lock.js';

/**
 * task-20261123-230512-3f9a1c: sortable by time; 24 random bits make a clash within one second unlikely,
 * and enqueueTasks gives a generated id that clashes anyway a new one. Math.random (seeded per process from
 * the system's entropy) rather than node:crypto, whose load is about 6 ms of create-task.sh's start: the id
 * is a name, not a secret.
 */
export function newTaskId(now: number = Date.now()): string {
  const stamp = nowIso(now).replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `task-${stamp}-${Math.floor(Math.random() * 0x1000000).toString(16).padStart(6, '0')}`;
}

export interface NewTask {
  readonly description: string;
  readonly priority: Priority;
  readonly workerType: string;
  readonly metadata: Record<string, unknown>;
}

export function buildTask(input: NewTask, now: number = Date.now()): Task {
  return {
    task_id: newTaskId(now),
    description: input.description,
    priority: input.priority,
    worker_type: input.workerType,
    status: 'queued',
    created_at: nowIso(now),
    metadata: input.metadata,
    worker_id: null,
    assigned_at: null,
    completed_at: null,
    error: null,
  };
}

export interface Enqueued {
  /** The task as queued: for an id already queued, the one queued first. */
  readonly task: Task;
  readonly created: boolean;
}

export interface EnqueueOptions {
  /** Ids newTaskId made (not given by a person): one already queued or earlier in the batch is replaced by a new one. */
  readonly generatedIds?: ReadonlySet<string>;
}

/**
 * Adds tasks to task-queue.json in one read-modify-write under its lock, with one atomic write (none when
 * every id is already queued). A task whose given id is already in the queue is not queued again.
 */
export async function enqueueTasks(paths: HomePaths, tasks: readonly Task[], options: EnqueueOptions = {}): Promise<Enqueued[]> {
  return withQuickLock(paths, TASK_QUEUE_LOCK, async () => {
    const queue = await readTaskQueueQuickly(paths);
    const byId = new Map(queue.tasks.map((t) => [t.task_id, t]));
    const results = tasks.map((given): Enqueued => {
      let task = given;
      if (options.generatedIds?.has(task.task_id) === true) {
        while (byId.has(task.task_id)) task = { ...task, task_id: newTaskId(Date.parse(task.created_at)) };
      }
      const found = byId.get(task.task_id);
      if (found !== undefined) return { task: found, created: false };
      byId.set(task.task_id, task);
      queue.tasks.push(task);
      return { task, created: true };
    });
    if (results.some((r) => r.created)) writeJsonSync(paths.taskQueue, queue);
    return results;
  });
}

/**
 * task-queue.json as readTaskQueue returns it. A file the quick check accepts is taken as parsed; anything
 * else (bad JSON, a field out of place, a task without metadata that the schema would default) goes to
 * readTaskQueue, whose zod schema decides and names the problem.
 */
async function readTaskQueueQuickly(paths: HomePaths): Promise<TaskQueue> {
  const text = readTextIfExists(paths.taskQueue);
  if (text === undefined || text.trim() === '') return { tasks: [] };
  const quick = quickParse(text);
  if (quick !== undefined) return quick;
  const { readTaskQueue } = await import('./tasks.js');
  return readTaskQueue(paths);
}

function quickParse(text: string): TaskQueue | undefined {
  const raw = parseObject(text);
  return raw !== undefined && Array.isArray(raw.tasks) && raw.tasks.every(isPlainTask) ? (raw as unknown as TaskQueue) : undefined;
}

const optional = (value: unknown, check: (v: unknown) => boolean): boolean => value === undefined || value === null || check(value);

/** Only the timestamps this program writes (toISOString's form): a strict subset of the schema's ISO datetime. */
const isOwnTimestamp = (value: unknown): boolean =>
  typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(value) && !Number.isNaN(Date.parse(value)) && new Date(value).toISOString() === value;

/** A task taskSchema accepts as it is (it would change nothing); false means "ask the schema", not "invalid". */
function isPlainTask(task: unknown): boolean {
  return (
    isPlainObject(task) &&
    isValidId(task.task_id) &&
    nonEmptyString(task.description) &&
    (PRIORITIES as readonly unknown[]).includes(task.priority) &&
    nonEmptyString(task.worker_type) &&
    (TASK_STATUSES as readonly unknown[]).includes(task.status) &&
    isOwnTimestamp(task.created_at) &&
    isPlainObject(task.metadata) &&
    optional(task.worker_id, (v) => typeof v === 'string') &&
    optional(task.assigned_at, isOwnTimestamp) &&
    optional(task.completed_at, isOwnTimestamp) &&
    optional(task.error, (v) => typeof v === 'string')
  );
}
