// create-task's one copy of the logic, shared by the yargs command (src/cli/commands/create-task.ts) and the
// lean entry scripts/create-task.sh runs (src/bin/create-task.ts): check every task before the home is
// touched, then queue them all in one write and log one task_created per new task in one append. zod-free
// on the file backend's usual way (see worker-type-names.ts and store/task-batch.ts).
import { assertValidId } from '../contract/ids.js';
import { PRIORITIES, type Priority } from '../contract/task-fields.js';
import type { Task } from '../contract/task-queue.js';
import { RelayError, quote } from '../errors.js';
import { appendEvents, type EventInput } from '../store/activity-log.js';
import { ensureLayout, type HomePaths } from '../store/home.js';
import { buildTask, newTaskId } from '../store/task-batch.js';
import { openTaskQueue, type EnqueueResult } from './backend.js';
import { queueSettings } from './quick-settings.js';
import { defaultWorkerType, loadWorkerTypeNames } from './worker-type-names.js';

/** One task as given: by flags (create-task --description ...) or by one line of --from-file. */
export interface TaskDraft {
  readonly description?: unknown;
  readonly priority?: unknown;
  readonly worker_type?: unknown;
  readonly metadata?: unknown;
  readonly task_id?: unknown;
}

/** A draft whose fields are checked; its worker type is checked against worker-types.json later. */
export interface CheckedDraft {
  readonly description: string;
  readonly priority: Priority;
  readonly workerType: string | undefined;
  readonly metadata: Record<string, unknown>;
  readonly taskId: string | undefined;
  /** Put before an error about this task: '' for flags, `FILE: line N: ` for a line. */
  readonly where: string;
}

const DRAFT_KEYS = ['description', 'priority', 'worker_type', 'metadata', 'task_id'] as const;

/** How a field is named in errors: `--worker-type` for the flags, `worker_type` for a line of a file. */
type FieldName = (field: (typeof DRAFT_KEYS)[number]) => string;
const FLAG_NAME: FieldName = (field) => `--${field.replace('_', '-')}`;
const KEY_NAME: FieldName = (field) => field;

export const kindOf = (value: unknown): string => (Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value);

/** A RelayError with `where` put before its message (the same code), so that it names the line; other errors as they are. */
function located(where: string, error: unknown): unknown {
  if (where === '' || !(error instanceof RelayError)) return error;
  return new RelayError(error.code, `${where}${error.message}`, { cause: error, details: error.details });
}

function checkDraft(draft: TaskDraft, where: string, name: FieldName): CheckedDraft {
  try {
    if (typeof draft.description !== 'string') {
      throw new RelayError('USAGE', draft.description === undefined ? `${name('description')} is missing` : `${name('description')} must be a string, got ${kindOf(draft.description)}`);
    }
    const description = draft.description.trim();
    if (description === '') throw new RelayError('USAGE', `${name('description')} must not be empty`);
    const priority = draft.priority ?? 'medium';
    if (!(PRIORITIES as readonly unknown[]).includes(priority)) {
      throw new RelayError('USAGE', `unknown priority ${typeof priority === 'string' ? `"${priority}"` : String(kindOf(priority))}: use one of ${PRIORITIES.join(', ')}`);
    }
    const metadata = draft.metadata ?? {};
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new RelayError('USAGE', `${name('metadata')} must be a JSON object, got ${kindOf(metadata)}`);
    }
    if (draft.worker_type !== undefined && typeof draft.worker_type !== 'string') {
      throw new RelayError('USAGE', `${name('worker_type')} must be a string, got ${kindOf(draft.worker_type)}`);
    }
    const taskId = draft.task_id === undefined ? undefined : assertValidId(draft.task_id, 'task');
    return { description, priority: priority as Priority, workerType: draft.worker_type, metadata: metadata as Record<string, unknown>, taskId, where };
  } catch (error) {
    throw located(where, error);
  }
}

/** The flags' task (--metadata already parsed by the CLI's parseJsonObjectFlag), checked; errors name the flags. */
export const checkFlagDraft = (draft: TaskDraft): CheckedDraft => checkDraft(draft, '', FLAG_NAME);

/**
 * --from-file's text: one JSON object a line (blank lines skipped), each checked; the first bad line is an
 * error naming `source` and its line number. A task_id repeated within the text is an error too.
 */
export function checkDraftLines(text: string, source: string): CheckedDraft[] {
  const drafts: CheckedDraft[] = [];
  const lineOfId = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const where = `${source}: line ${i + 1}: `;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new RelayError('USAGE', `${where}not valid JSON (${(error as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RelayError('USAGE', `${where}expected a JSON object, got ${kindOf(value)}`);
    const unknown = Object.keys(value).find((k) => !(DRAFT_KEYS as readonly string[]).includes(k));
    if (unknown !== undefined) throw new RelayError('USAGE', `${where}unknown key ${quote(unknown)} (a task has ${DRAFT_KEYS.join(', ')})`);
    const draft = checkDraft(value as TaskDraft, where, KEY_NAME);
    if (draft.taskId !== undefined) {
      const first = lineOfId.get(draft.taskId);
      if (first !== undefined) throw new RelayError('USAGE', `${where}task_id "${draft.taskId}" is also on line ${first}`);
      lineOfId.set(draft.taskId, i + 1);
    }
    drafts.push(draft);
  }
  return drafts;
}

/**
 * Queues checked drafts: their worker types checked against worker-types.json and the queue settings read
 * before anything is written, then every task in one enqueue and one task_created per new task, appended in
 * one write. All or nothing on the file backend (one locked write of task-queue.json).
 */
export async function queueTasks(paths: HomePaths, env: NodeJS.ProcessEnv, drafts: readonly CheckedDraft[], now: number = Date.now()): Promise<EnqueueResult[]> {
  if (drafts.length === 0) return [];
  const names = await loadWorkerTypeNames(paths);
  const tasks: Task[] = [];
  // Generated ids made unique within the batch (24 random bits clash about once in 30 batches of 1,000 made
  // in one second); enqueueTasks also renews one that clashes with a queued task.
  const generatedIds = new Set<string>();
  const givenIds = new Set(drafts.flatMap((d) => (d.taskId === undefined ? [] : [d.taskId])));
  for (const draft of drafts) {
    const workerType = draft.workerType ?? defaultWorkerType(paths, names);
    try {
      await names.check(workerType);
    } catch (error) {
      throw located(draft.where, error);
    }
    const built = buildTask({ description: draft.description, priority: draft.priority, workerType, metadata: draft.metadata }, now);
    if (draft.taskId !== undefined) tasks.push({ ...built, task_id: draft.taskId });
    else {
      let task = built;
      while (generatedIds.has(task.task_id) || givenIds.has(task.task_id)) task = { ...task, task_id: newTaskId(now) };
      generatedIds.add(task.task_id);
      tasks.push(task);
    }
  }
  const backend = await openTaskQueue(paths, await queueSettings(paths, env));
  try {
    if (backend.kind === 'file') ensureLayout(paths);
    const results = await backend.enqueueMany(tasks, { generatedIds });
    const events: EventInput[] = results
      .filter((r) => r.created)
      .map(({ task, where }) => ({
        event: 'task_created',
        task_id: task.task_id,
        data: { priority: task.priority, worker_type: task.worker_type, description: task.description, metadata: task.metadata, queue: where },
      }));
    if (events.length > 0) {
      ensureLayout(paths);
      appendEvents(paths, events);
    }
    return results;
  } finally {
    await backend.close();
  }
}

/** What create-task prints: each id alone on a line, or with --json the task with where it went and whether it is new (one JSON a line for --from-file). */
export function formatQueued(results: readonly EnqueueResult[], options: { json: boolean; lines: boolean }): string {
  if (!options.json) return results.map((r) => `${r.task.task_id}\n`).join('');
  const shown = results.map((r) => ({ ...r.task, queue: r.where, created: r.created }));
  if (options.lines) return shown.map((t) => `${JSON.stringify(t)}\n`).join('');
  return `${JSON.stringify(shown[0], null, 2)}\n`;
}
