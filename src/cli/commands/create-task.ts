import type { Argv, CommandModule } from 'yargs';
import { PRIORITIES } from '../../contract/task-queue.js';
import { runCreateTask } from '../../queue/create-task-input.js';

interface Args {
  description?: string;
  priority?: string;
  'worker-type'?: string;
  metadata?: string;
  'task-id'?: string;
  'from-file'?: string;
  json: boolean;
}

/** The same command as scripts/create-task.sh (src/bin/create-task.ts): both run src/queue/create-tasks.ts. */
export const createTaskCommand: CommandModule<object, Args> = {
  command: 'create-task',
  describe: 'Queue a task (or, with --from-file, many); prints each id alone on a line',
  builder: (y: Argv) =>
    y
      .option('description', { type: 'string', describe: 'what the worker is asked to do (required without --from-file)', requiresArg: true })
      .option('priority', { type: 'string', describe: `one of ${PRIORITIES.join(', ')} (default: medium)`, requiresArg: true })
      .option('worker-type', { type: 'string', describe: 'a worker type of worker-types.json (default: implementation, else the first)', requiresArg: true })
      .option('metadata', { type: 'string', describe: 'a JSON object kept with the task', requiresArg: true })
      .option('task-id', { type: 'string', describe: 'the task\'s id (default: a new one); a task with this id already queued is not queued again', requiresArg: true })
      .option('from-file', {
        type: 'string',
        describe: 'queue the tasks of a JSON-lines file (- for stdin), one {"description", "priority"?, "worker_type"?, "metadata"?, "task_id"?} a line: all or none',
        requiresArg: true,
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the whole task as JSON, with where it was queued (queue) and whether it is new (created); one a line with --from-file' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    process.stdout.write(await runCreateTask(argv, process.env));
  },
};
