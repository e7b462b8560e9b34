import type { Argv, CommandModule } from 'yargs';
import { loadDaemonSettings, loadWorkerTypes } from '../../config/load.js';
import { describeError } from '../../errors.js';
import { homeFromEnv } from '../context.js';

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
      .option('concurrency', { type: 'number', describe: 'workers running at once (overrides WORKER_CONCURRENCY)', requiresArg: true })
      .check((argv) => {
        if (argv.interval !== undefined && !(Number.isFinite(argv.interval) && argv.interval > 0)) throw new Error(`--interval must be a positive number of seconds, got ${argv.interval}`);
        if (argv.concurrency !== undefined && !(Number.isInteger(argv.concurrency) && argv.concurrency >= 0)) throw new Error(`--concurrency must be a whole number >= 0, got ${argv.concurrency}`);
        return true;
      }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const paths = homeFromEnv();
    const flags = {
      ...(argv.interval === undefined ? {} : { loopIntervalSeconds: argv.interval }),
      ...(argv.concurrency === undefined ? {} : { maxConcurrentWorkers: argv.concurrency }),
      ...(argv.demo ? { demo: true } : {}),
    };
    // Configuration errors surface here, before anything is claimed or written.
    const workerTypes = loadWorkerTypes(paths);
    const settings = loadDaemonSettings(paths, process.env, flags);
    // The daemon's own dependencies (pino; prom-client and execa only when metrics or an alert hook are configured) load only here, so every other command starts fast.
    const [{ Daemon }, { createPassHooks }, { seedDemoTasks }, { formatEventForConsole }, { createFileLogger }] = await Promise.all([
      import('../../daemon/daemon.js'),
      import('../../daemon/alerts-and-metrics.js'),
      import('../../daemon/demo.js'),
      import('../../daemon/console.js'),
      import('../../log.js'),
    ]);
    const { logger, flush } = createFileLogger(paths.daemonLog, settings.logLevel);
    const print = !argv.quiet;
    const hooks = createPassHooks(paths, settings, logger);
    const daemon = new Daemon({
      paths,
      env: process.env,
      flags,
      logger,
      hooks,
    });
    // The console shows every event of pm-activity.jsonl, whoever appended it (the daemon, a command, a worker's
    // emit-event, the alerts file's writer), at the time it happened.
    if (print) {
      daemon.activityFeed.subscribe((event) => {
        const at = new Date(event.timestamp);
        process.stdout.write(`${formatEventForConsole(event, Number.isNaN(at.getTime()) ? new Date() : at)}\n`);
      });
    }
    // The daemon outlives its own bugs: a stray exception is logged and the next pass tries again.
    process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection (carrying on)'));
    process.on('uncaughtException', (error) => logger.error({ err: error }, 'uncaught exception (carrying on)'));
    const seedDemo = async (): Promise<void> => {
      if (!settings.demo) return;
      const seeded = await seedDemoTasks(paths, workerTypes);
      if (seeded > 0 && print) process.stdout.write(`queued ${seeded} demo tasks; watch coordination/pm-activity.jsonl or ./scripts/dashboards/daemon-monitor.sh --watch\n`);
    };
    if (argv.once) {
      await seedDemo();
      await daemon.start({ watch: false });
      await daemon.stop('once');
      flush();
      return;
    }
    // Signals are caught from here on: one that arrives while the daemon is still starting stops it
    // gracefully as soon as it has started, never by the default action mid-write.
    let received: NodeJS.Signals | undefined;
    let wake: (() => void) | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      received ??= signal;
      wake?.();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onSignal);
    // Claim the home first: a second daemon is refused before it queues, listens or writes anything.
    await daemon.start();
    if (received === undefined) {
      await seedDemo();
      const endpoint = await hooks.start({ activity: daemon.activityFeed });
      if (endpoint !== undefined) {
        daemon.metricsEndpoint = endpoint;
        const origin = `http://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
        if (print) process.stdout.write(`dashboard on ${origin}/ (metrics on ${origin}/metrics and /health)\n`);
      }
      if (print) process.stdout.write(`pm-daemon running for ${paths.home} (pid ${process.pid}); Ctrl-C stops it and leaves the workers running\n`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (received !== undefined) resolve();
      });
    }
    await daemon.stop(received ?? 'signal').catch((error: unknown) => logger.error({ err: error }, `stop failed: ${describeError(error)}`));
    await hooks.close();
    flush();
  },
};
