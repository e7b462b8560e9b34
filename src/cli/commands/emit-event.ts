import type { Argv, CommandModule } from 'yargs';
import { assertValidId } from '../../contract/ids.js';
import { appendOperatorEvent, formatEventLine } from '../../store/activity-log.js';
import { homeFromEnv, parseJsonObjectFlag } from '../context.js';

interface Args {
  type: string;
  'worker-id'?: string;
  'task-id'?: string;
  message?: string;
  data?: string;
}

export const emitEventCommand: CommandModule<object, Args> = {
  command: 'emit-event',
  describe: 'Append an event to pm-activity.jsonl',
  builder: (y: Argv) =>
    y
      .option('type', { type: 'string', demandOption: true, describe: 'the event type, e.g. worker_zombie_cleaned', requiresArg: true })
      .option('worker-id', { type: 'string', describe: 'the worker it concerns', requiresArg: true })
      .option('task-id', { type: 'string', describe: 'the task it concerns', requiresArg: true })
      .option('message', { type: 'string', describe: 'a message for people', requiresArg: true })
      .option('data', { type: 'string', describe: 'a JSON object of further fields', requiresArg: true }) as unknown as Argv<Args>,
  handler: (argv) => {
    const data = parseJsonObjectFlag('data', argv.data);
    const workerId = argv['worker-id'] === undefined ? undefined : assertValidId(argv['worker-id'], 'worker');
    const taskId = argv['task-id'] === undefined ? undefined : assertValidId(argv['task-id'], 'task');
    formatEventLine({ event: argv.type });
    const paths = homeFromEnv();
    appendOperatorEvent(paths, {
      event: argv.type,
      worker_id: workerId,
      task_id: taskId,
      data: { ...data, ...(argv.message === undefined ? {} : { message: argv.message }), source: 'emit-event' },
    });
  },
};
