#!/usr/bin/env node
import type { CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runCli } from './run.js';

type AnyCommand = CommandModule<object, never>;

/**
 * Each command's module, loaded on demand: a command loads only its own code (and its dependencies),
 * not the daemon's, the dashboard's and every other command's. That is about 0.2 s of every command.
 * With no command, or one not listed here, all are loaded, so that --help lists them and yargs can
 * say what is unknown and suggest the nearest name.
 */
const COMMANDS: Record<string, () => Promise<AnyCommand>> = {
  'pm-daemon': async () => (await import('./commands/pm-daemon.js')).pmDaemonCommand as unknown as AnyCommand,
  'cleanup-zombie-workers': async () => (await import('./commands/cleanup-zombie-workers.js')).cleanupZombieWorkersCommand as unknown as AnyCommand,
  'create-task': async () => (await import('./commands/create-task.js')).createTaskCommand as unknown as AnyCommand,
  'emit-event': async () => (await import('./commands/emit-event.js')).emitEventCommand as unknown as AnyCommand,
  validate: async () => (await import('./commands/validate.js')).validateCommand as unknown as AnyCommand,
  'health-check': async () => (await import('./commands/health-check.js')).healthCheckCommand as unknown as AnyCommand,
  'daemon-monitor': async () => (await import('./commands/daemon-monitor.js')).daemonMonitorCommand as unknown as AnyCommand,
  'archive-failed-workers': async () => (await import('./commands/archive-failed-workers.js')).archiveFailedWorkersCommand as unknown as AnyCommand,
  'start-worker': async () => (await import('./commands/start-worker.js')).startWorkerCommand as unknown as AnyCommand,
  'stop-worker': async () => (await import('./commands/stop-worker.js')).stopWorkerCommand as unknown as AnyCommand,
  'restart-worker': async () => (await import('./commands/restart-worker.js')).restartWorkerCommand as unknown as AnyCommand,
  'fail-worker': async () => (await import('./commands/fail-worker.js')).failWorkerCommand as unknown as AnyCommand,
  'recover-task': async () => (await import('./commands/recover-task.js')).recoverTaskCommand as unknown as AnyCommand,
  'pause-dispatch': async () => (await import('./commands/pause-dispatch.js')).pauseDispatchCommand as unknown as AnyCommand,
  'resume-dispatch': async () => (await import('./commands/resume-dispatch.js')).resumeDispatchCommand as unknown as AnyCommand,
  'cleanup-workspaces': async () => (await import('./commands/cleanup-workspaces.js')).cleanupWorkspacesCommand as unknown as AnyCommand,
  checkin: async () => (await import('./commands/checkin.js')).checkinCommand as unknown as AnyCommand,
  logs: async () => (await import('./commands/logs.js')).logsCommand as unknown as AnyCommand,
  describe: async () => (await import('./commands/describe.js')).describeCommand as unknown as AnyCommand,
  hooks: async () => (await import('./commands/hooks.js')).hooksCommand as unknown as AnyCommand,
  'notify-webhook': async () => (await import('./commands/notify-webhook.js')).notifyWebhookCommand as unknown as AnyCommand,
};

const argv = hideBin(process.argv);
// A reader that goes away (`daemon-monitor --watch | head`) ends the output, not with a stack trace: a
// command exits as it would have; the daemon only stops printing (its files are what matter).
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  if (argv[0] === 'pm-daemon') return;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});
const named = argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0]) ? COMMANDS[argv[0]] : undefined;
const commands = named !== undefined ? [await named()] : await Promise.all(Object.values(COMMANDS).map((load) => load()));
process.exitCode = await runCli(argv, commands);
