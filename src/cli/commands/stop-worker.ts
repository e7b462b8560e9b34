import type { Argv, CommandModule } from 'yargs';
import { assertValidId } from '../../contract/ids.js';
import { stopWorker } from '../../worker/stop.js';
import { homeFromEnv } from '../context.js';
import { describeStopWorker, lifecycleContext } from './worker-command.js';

interface Args {
  'worker-id': string;
  reason: string;
}

export const stopWorkerCommand: CommandModule<object, Args> = {
  command: 'stop-worker <worker-id>',
  describe: "Stop a worker's process group (SIGTERM, its type's grace, SIGKILL) and keep it stopped until start-worker or restart-worker; the spec stays in active/",
  builder: (y: Argv) =>
    y
      .positional('worker-id', { type: 'string', demandOption: true, describe: 'the worker to stop' })
      .option('reason', { type: 'string', default: 'manual stop', requiresArg: true, describe: 'why, for the activity log' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const workerId = assertValidId(argv['worker-id'], 'worker');
    const result = await stopWorker(lifecycleContext(homeFromEnv()), workerId, argv.reason);
    process.stdout.write(`${workerId}: ${describeStopWorker(result)}\n`);
  },
};
