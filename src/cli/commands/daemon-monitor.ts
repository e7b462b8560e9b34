import type { Argv, CommandModule } from 'yargs';
import { RelayError } from '../../errors.js';
import { collectDashboardModel } from '../../ops/dashboard-model.js';
import { renderDashboard } from '../../ops/dashboard-render.js';
import { watchDashboard } from '../../ops/dashboard-watch.js';
import { openHomeForReading } from '../../ops/home-read.js';
import { printJson } from '../context.js';
import { loadQueueSettings } from '../../config/load.js';

interface Args {
  status: boolean;
  json: boolean;
  watch: boolean;
  fleet: boolean;
  width?: number;
  interval: number;
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything (https://no-color.org). */
export const useColor = (stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean => stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');

export const daemonMonitorCommand: CommandModule<object, Args> = {
  command: 'daemon-monitor',
  describe: 'The status dashboard: the daemon, each active worker (most troubled first), totals, queue depth, active alerts',
  builder: (y: Argv) =>
    y
      .option('status', { type: 'boolean', default: false, describe: 'show the dashboard once (the default)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the dashboard model as JSON (with --watch: one line per second)' })
      .option('watch', { type: 'boolean', default: false, describe: 'redraw every second until q or Ctrl-C' })
      .option('fleet', { type: 'boolean', default: false, describe: 'with the redis queue backend: every host, the shared queue, every host\'s workers' })
      .option('width', { type: 'number', describe: 'columns to fit (default: the terminal\'s; not on a terminal, nothing is cut)', requiresArg: true })
      .option('interval', { type: 'number', default: 1, describe: 'with --watch: seconds between redraws', requiresArg: true }) as unknown as Argv<Args>,
  handler: async (argv) => {
    if (argv.width !== undefined && (!Number.isInteger(argv.width) || argv.width < 40)) throw new RelayError('USAGE', `--width must be a whole number >= 40, got \`${argv.width}\``);
    if (!Number.isFinite(argv.interval) || argv.interval < 0.1) throw new RelayError('USAGE', `--interval must be at least 0.1 seconds, got \`${argv.interval}\``);
    const paths = openHomeForReading();
    const color = useColor(process.stdout, process.env) && !argv.json;
    if (argv.fleet) {
      if (argv.watch) throw new RelayError('USAGE', '--fleet shows the fleet once; it does not take --watch (run it under watch(1) instead)');
      const settings = loadQueueSettings(paths, process.env);
      if (settings.backend !== 'redis') throw new RelayError('USAGE', '--fleet needs the redis queue backend (queue.backend "redis" and queue.redis_url in pm-daemon.json, or COMMIT_RELAY_REDIS_URL); this home uses the file backend');
      const { showFleet } = await import('../../ops/fleet-show.js');
      await showFleet(settings, { json: argv.json, color, capIds: process.stdout.isTTY === true });
      return;
    }
    if (argv.watch) {
      await watchDashboard(paths, { json: argv.json, color, width: argv.width, intervalMs: argv.interval * 1000, stdin: process.stdin, stdout: process.stdout });
      return;
    }
    const model = collectDashboardModel(paths);
    if (argv.json) {
      printJson(model);
      return;
    }
    // A terminal's width is fitted; a pipe or a file gets every line whole (unless --width says otherwise).
    const tty = process.stdout.isTTY === true;
    process.stdout.write(renderDashboard(model, { width: argv.width ?? (tty ? process.stdout.columns || 80 : 80), wide: argv.width === undefined && !tty, color }));
  },
};
