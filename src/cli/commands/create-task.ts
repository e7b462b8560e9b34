import type { Argv, CommandModule } from 'yargs';
import { PRIORITIES, type Priority } from '../../contract/task-queue.js';
import { RelayError } from '../../errors.js';
import { loadWorkerTypes } from '../../config/load.js';
import { appendEvent } from '../../store/activity-log.js';
import { ensureLayout } from '../../store/home.js';
import { buildTask, enqueueTask } from '../../store/tasks.js';
import { homeFromEnv, parseJsonObjectFlag, printJson } from '../context.js';

interface Args {
  description: string;
  priority: string;
  'worker-type'?: string;
  metadata?: string;
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
      .option('json', { type: 'boolean', default: false, describe: 'print the whole task as JSON' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const description = argv.description.trim();
    if (description === '') throw new RelayError('USAGE', '--description must not be empty');
    if (!(PRIORITIES as readonly string[]).includes(argv.priority)) {
      throw new RelayError('USAGE', `unknown priority "${argv.priority}": use one of ${PRIORITIES.join(', ')}`);
    }
    const metadata = parseJsonObjectFlag('metadata', argv.metadata);
    // Check everything before the home is touched: bad input changes nothing, not even a folder.
    const paths = homeFromEnv(process.env, { create: false });
    const types = loadWorkerTypes(paths);
    const workerType = argv['worker-type'] ?? types.defaultType;
    if (workerType === undefined) throw new RelayError('CONFIG_INVALID', `${paths.workerTypes} defines no worker type`);
    types.get(workerType);
    ensureLayout(paths);
    const task = await enqueueTask(paths, buildTask({ description, priority: argv.priority as Priority, workerType, metadata }));
    appendEvent(paths, { event: 'task_created', task_id: task.task_id, data: { priority: task.priority, worker_type: task.worker_type, description: task.description, metadata } });
    if (argv.json) printJson(task);
    else process.stdout.write(`${task.task_id}\n`);
  },
};
