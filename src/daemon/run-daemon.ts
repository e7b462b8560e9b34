import { loadDaemonSettings, loadWorkerTypes } from '../config/load.js';
import { describeError, RelayError } from '../errors.js';
import { homeFromEnv } from '../cli/context.js';

/** What `pm-daemon` is asked to do: the flags of `commit-relay pm-daemon` and of scripts/pm-daemon.sh (src/bin/pm-daemon.ts). */
export interface DaemonRunOptions {
  readonly once: boolean;
  readonly demo: boolean;
  readonly quiet: boolean;
  readonly interval?: number | undefined;
  readonly concurrency?: number | undefined;
}

/** The flags' own rules, one message each (both entries word them alike). */
export function checkDaemonFlags(options: { readonly interval?: number | undefined; readonly concurrency?: number | undefined }): void {
  const { interval, concurrency } = options;
  if (interval !== undefined && !(Number.isFinite(interval) && interval > 0)) throw new RelayError('USAGE', `--interval must be a positive number of seconds, got ${interval}`);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 0)) throw new RelayError('USAGE', `--concurrency must be a whole number >= 0, got ${concurrency}`);
}

/**
 * Runs the daemon in the foreground until a signal (or, with `once`, for one full pass). Its configuration is
 * loaded and checked before anything is claimed or written.
 */
export async function runDaemon(options: DaemonRunOptions): Promise<void> {
  checkDaemonFlags(options);
  const paths = homeFromEnv();
  const flags = {
    ...(options.interval === undefined ? {} : { loopIntervalSeconds: options.interval }),
    ...(options.concurrency === undefined ? {} : { maxConcurrentWorkers: options.concurrency }),
    ...(options.demo ? { demo: true } : {}),
  };
  // Configuration errors surface here, before anything is claimed or written.
  const workerTypes = loadWorkerTypes(paths);
  const settings = loadDaemonSettings(paths, process.env, flags);
  // The daemon's own dependencies (pino; prom-client and execa only when metrics or an alert hook are configured) load
  // only here, so that the CLI's other commands, which import this module through their command list, start fast.
  const [{ Daemon }, { createPassHooks }, { seedDemoTasks }, { formatEventForConsole }, { createFileLogger }] = await Promise.all([
    import('./daemon.js'),
    import('./alerts-and-metrics.js'),
    import('./demo.js'),
    import('./console.js'),
    import('../log.js'),
  ]);
  const { logger, flush } = createFileLogger(paths.daemonLog, settings.logLevel);
  const print = !options.quiet;
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
  if (options.once) {
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
  // What fails once the daemon runs (the demo tasks, the metrics listener's port) stops it, as a signal would, and is
  // then reported: a daemon is never left running with its signals caught and nothing to wake.
  let failure: { readonly error: unknown } | undefined;
  try {
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
  } catch (error) {
    failure = { error };
  }
  await daemon.stop(failure !== undefined ? 'error' : (received ?? 'signal')).catch((error: unknown) => logger.error({ err: error }, `stop failed: ${describeError(error)}`));
  await hooks.close();
  flush();
  if (failure !== undefined) throw failure.error;
}
