import type { Argv, CommandModule } from 'yargs';
import { assertValidId } from '../../contract/ids.js';
import { RelayError } from '../../errors.js';
import { failWorker } from '../../worker/stop.js';
import { homeFromEnv } from '../context.js';
import { describeStop, lifecycleContext } from './worker-command.js';

interface Args {
  'worker-id': string;
  error: string;
}

export const failWorkerCommand: CommandModule<object, Args> = {
  command: 'fail-worker <worker-id>',
  describe: 'Stop a worker and mark it failed: status failed, error, completed_at, spec moved to failed/',
  builder: (y: Argv) =>
    y
      .positional('worker-id', { type: 'string', demandOption: true, describe: 'the worker to fail' })
      .option('error', { type: 'string', default: 'Manual termination', requiresArg: true, describe: 'the reason recorded in the spec' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const workerId = assertValidId(argv['worker-id'], 'worker');
    const error = argv.error.trim();
    if (error === '') throw new RelayError('USAGE', '--error must not be empty');
    const result = await failWorker(lifecycleContext(homeFromEnv()), workerId, error);
    process.stdout.write(`${workerId}: failed; ${describeStop(result)}\n`);
  },
};
