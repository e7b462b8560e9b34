import type { Argv, CommandModule } from 'yargs';
import { loadQueueSettings, loadWorkerTypes } from '../../config/load.js';
import { assertValidId } from '../../contract/ids.js';
import { PRIORITIES, type Priority } from '../../contract/task-queue.js';
import { RelayError } from '../../errors.js';
import { recoverTask } from '../../worker/recover.js';
import { homeFromEnv } from '../context.js';

interface Args {
  'worker-id': string;
  priority: string;
}

export const recoverTaskCommand: CommandModule<object, Args> = {
  command: 'recover-task <worker-id>',
  describe: "Queue a new task from a failed worker's spec (same description and type, metadata retry_of); prints its id alone",
  builder: (y: Argv) =>
    y
      .positional('worker-id', { type: 'string', demandOption: true, describe: 'a worker whose spec is in worker-specs/failed/' })
      .option('priority', { type: 'string', default: 'high', requiresArg: true, describe: `one of ${PRIORITIES.join(', ')}` }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const workerId = assertValidId(argv['worker-id'], 'worker');
    if (!(PRIORITIES as readonly string[]).includes(argv.priority)) {
      throw new RelayError('USAGE', `unknown priority "${argv.priority}": use one of ${PRIORITIES.join(', ')}`);
    }
    const paths = homeFromEnv();
    const taskId = await recoverTask({ paths, workerTypes: loadWorkerTypes(paths) }, workerId, argv.priority as Priority, loadQueueSettings(paths, process.env));
    process.stdout.write(`${taskId}\n`);
  },
};
