import type { Argv, CommandModule } from 'yargs';
import { assertValidId } from '../../contract/ids.js';
import { quote, RelayError } from '../../errors.js';
import { openHomeForReading } from '../../ops/home-read.js';
import { assertKnownWorker, showLogs } from '../../ops/logs.js';

interface Args {
  'worker-id'?: string;
  follow: boolean;
  lines: string;
  all: boolean;
}

export const logsCommand: CommandModule<object, Args> = {
  command: 'logs [worker-id]',
  describe: "A worker's output (agents/logs/<id>/output.log, and output.log.1 before it): the last lines, then with -f what it writes, across rotations and restarts, until Ctrl-C",
  builder: (y: Argv) =>
    y
      .positional('worker-id', { type: 'string', describe: 'the worker (active, completed, failed or archived)' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'keep printing what is appended until Ctrl-C' })
      .option('lines', { alias: 'n', type: 'string', default: '50', requiresArg: true, describe: 'how many of the last lines to print first' })
      .option('all', { type: 'boolean', default: false, describe: 'every active worker, each line prefixed with its id (new workers are picked up while following)' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    if (!/^\d{1,9}$/.test(argv.lines)) throw new RelayError('USAGE', `--lines must be a whole number >= 0, got ${quote(argv.lines)}`);
    const workerId = argv['worker-id'];
    if (argv.all && workerId !== undefined) throw new RelayError('USAGE', 'give a worker id or --all, not both');
    if (!argv.all && workerId === undefined) throw new RelayError('USAGE', 'name a worker id (or --all for every active worker)');
    if (workerId !== undefined) assertValidId(workerId, 'worker');
    const paths = openHomeForReading();
    if (workerId !== undefined) assertKnownWorker(paths, workerId);
    await showLogs(paths, { lines: Number(argv.lines), follow: argv.follow, ...(workerId === undefined ? {} : { workerId }) });
  },
};
