import type { Argv, CommandModule } from 'yargs';
import { loadWorkerTypes } from '../../config/load.js';
import { assertValidId } from '../../contract/ids.js';
import { restartWorker } from '../../worker/restart.js';
import { homeFromEnv } from '../context.js';

interface Args {
  'worker-id': string;
}

export const restartWorkerCommand: CommandModule<object, Args> = {
  command: 'restart-worker <worker-id>',
  describe: 'Stop a worker if it runs and start it again at once (under its lock); prints the new pid',
  builder: (y: Argv) => y.positional('worker-id', { type: 'string', demandOption: true, describe: 'the worker to restart' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const workerId = assertValidId(argv['worker-id'], 'worker');
    const paths = homeFromEnv();
    const result = await restartWorker({ paths, workerTypes: loadWorkerTypes(paths) }, workerId);
    process.stdout.write(`${result.pid}\n`);
  },
};
