import type { Argv, CommandModule } from 'yargs';
import { PRIORITIES, type Priority } from '../../contract/task-queue.js';
import { RelayError } from '../../errors.js';
import { loadQueueSettings, loadWorkerTypes } from '../../config/load.js';
import { assertValidId } from '../../contract/ids.js';
import { openTaskQueue } from '../../queue/backend.js';
import { appendEvent } from '../../store/activity-log.js';
import { ensureLayout } from '../../store/home.js';
import { buildTask } from '../../store/tasks.js';
import { homeFromEnv, parseJsonObjectFlag, printJson } from '../context.js';

interface Args {
  description: string;
  priority: string;
  'worker-type'?: string;
  metadata?: string;
  'task-id'?: string;
  json: boolean;
}

export const createTaskCommand: CommandModule<object, Args> = {
  command: 'create-task',
  describe: 'Queue a task; prints its id alone on stdout',
  builder: (y: Argv) =>
    y
      .option('description', { type: 'string', demandOption: true, describe: 'what the worker is asked to do', requiresArg: true })
      .option('priority', { type: 'string', default: 'medium', describe: `one of ${PRIORITIES.join(', ')}`, requiresArg: true })
      .option('worker-type', { type: 'string', describe: 'a worker type of worker-types.json (default: implementation, else the first)', requiresArg: true })
      .option('metadata', { type: 'string', describe: 'a JSON object kept with the task', requiresArg: true })
      .option('task-id', { type: 'string', describe: 'the task\'s id (default: a new one); a task with this id already queued is not queued again', requiresArg: true })
      .option('json', { type: 'boolean', default: false, describe: 'print the whole task as JSON, with where it was queued (queue) and whether it is new (created)' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const description = argv.description.trim();
    if (description === '') throw new RelayError('USAGE', '--description must not be empty');
    if (!(PRIORITIES as readonly string[]).includes(argv.priority)) {
      throw new RelayError('USAGE', `unknown priority "${argv.priority}": use one of ${PRIORITIES.join(', ')}`);
    }
    const metadata = parseJsonObjectFlag('metadata', argv.metadata);
    const taskId = argv['task-id'] === undefined ? undefined : assertValidId(argv['task-id'], 'task');
    // Check everything before the home is touched: bad input changes nothing, not even a folder.
    const paths = homeFromEnv(process.env, { create: false });
    const types = loadWorkerTypes(paths);
    const workerType = argv['worker-type'] ?? types.defaultType;
    if (workerType === undefined) throw new RelayError('CONFIG_INVALID', `${paths.workerTypes} defines no worker type`);
    types.get(workerType);
    const settings = loadQueueSettings(paths, process.env);
    const built = buildTask({ description, priority: argv.priority as Priority, workerType, metadata });
    const task = taskId === undefined ? built : { ...built, task_id: taskId };
    const backend = await openTaskQueue(paths, settings);
    try {
      if (backend.kind === 'file') ensureLayout(paths);
      const result = await backend.enqueue(task);
      if (result.created) {
        ensureLayout(paths);
        appendEvent(paths, { event: 'task_created', task_id: task.task_id, data: { priority: task.priority, worker_type: task.worker_type, description: task.description, metadata, queue: result.where } });
      }
      if (argv.json) printJson({ ...result.task, queue: result.where, created: result.created });
      else process.stdout.write(`${result.task.task_id}\n`);
    } finally {
      await backend.close();
    }
  },
};
