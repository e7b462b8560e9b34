import type { Argv, CommandModule } from 'yargs';
import { assertValidId } from '../../contract/ids.js';
import { describeWorker, renderDescription } from '../../ops/describe.js';
import { openHomeForReading } from '../../ops/home-read.js';
import { printJson } from '../context.js';

interface Args {
  'worker-id': string;
  json: boolean;
}

export const describeCommand: CommandModule<object, Args> = {
  command: 'describe <worker-id>',
  describe: 'Everything about one worker on one screen: spec, health and why, restarts, session, workspace, the run\'s processes (CPU, memory), last check-in, last events, log tail',
  builder: (y: Argv) =>
    y
      .positional('worker-id', { type: 'string', demandOption: true, describe: 'the worker (active, completed, failed or archived)' })
      .option('json', { type: 'boolean', default: false, describe: 'print it as one JSON object' }) as unknown as Argv<Args>,
  handler: (argv) => {
    const workerId = assertValidId(argv['worker-id'], 'worker');
    const description = describeWorker(openHomeForReading(), workerId);
    if (argv.json) printJson(description);
    else process.stdout.write(renderDescription(description));
  },
};
