import type { Argv, CommandModule } from 'yargs';
import { runDaemon } from '../../daemon/run-daemon.js';

interface Args {
  once: boolean;
  demo: boolean;
  quiet: boolean;
  interval?: number;
  concurrency?: number;
}

export const pmDaemonCommand: CommandModule<object, Args> = {
  command: 'pm-daemon',
  describe: 'Run the PM daemon in the foreground (--once: one full pass, then exit 0)',
  builder: (y: Argv) =>
    y
      .option('once', { type: 'boolean', default: false, describe: 'make one full pass and exit' })
      .option('demo', { type: 'boolean', default: false, describe: 'queue the demo tasks when the queue has never held a task' })
      .option('quiet', { type: 'boolean', default: false, describe: 'print no event lines on stdout (the log and pm-activity.jsonl still get them)' })
      .option('interval', { type: 'number', describe: 'seconds between full passes (overrides PM_LOOP_INTERVAL and pm-daemon.json)', requiresArg: true })
      // runDaemon checks their values (checkDaemonFlags), for this command and the lean entry alike.
      .option('concurrency', { type: 'number', describe: 'workers running at once (overrides WORKER_CONCURRENCY)', requiresArg: true }) as unknown as Argv<Args>,
  handler: async (argv) => {
    await runDaemon(argv);
  },
};
