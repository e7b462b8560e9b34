import type { Argv, CommandModule } from 'yargs';
import { RelayError } from '../../errors.js';
import { checkDaemonHealth, type DaemonHealth } from '../../ops/daemon-health.js';
import { restartDaemon } from '../../ops/daemon-start.js';
import { openHomeForReading } from '../../ops/home-read.js';
import { homeFromEnv, printJson } from '../context.js';

interface Args {
  json: boolean;
  restart: boolean;
  wait: number;
}

/**
 * 0 healthy; 1 the daemon runs but is not passing (starting, passes stopped); 2 it runs and passes but
 * worker-types.json does not load (a person must fix the file; the last good version is in force); 3 it does not run.
 */
export const healthExitCode = (health: DaemonHealth): number => (health.ok ? 0 : health.state === 'config_invalid' ? 2 : health.running ? 1 : 3);

export const healthCheckCommand: CommandModule<object, Args> = {
  command: 'health-check',
  describe: 'Exit 0 when the PM daemon runs and its last pass is recent; else say what is wrong',
  builder: (y: Argv) =>
    y
      .option('json', { type: 'boolean', default: false, describe: 'print the assessment as JSON' })
      .option('restart', { type: 'boolean', default: false, describe: 'when the daemon is not running, start one in the background and wait until it is healthy' })
      .option('wait', { type: 'number', default: 30, describe: 'with --restart: seconds to wait for the new daemon to be healthy', requiresArg: true })
      .epilog(
        'Recent means within max(3 loop intervals, 15 s). Exit 0: healthy. Exit 1: the daemon runs but has not passed recently ' +
          '(starting, passes stopped). Exit 2: it runs and passes, but coordination/config/worker-types.json does not load ' +
          '(the last good version stays in force; fix the file). Exit 3: it does not run (no pid file, or a stale one: the process is gone or the pid is reused).',
      ) as unknown as Argv<Args>,
  handler: async (argv) => {
    if (!Number.isFinite(argv.wait) || argv.wait <= 0) throw new RelayError('USAGE', `--wait must be a positive number of seconds, got \`${argv.wait}\``);
    const paths = argv.restart ? homeFromEnv() : openHomeForReading();
    const health = checkDaemonHealth(paths);
    if (!argv.restart || health.ok || health.running) {
      let message = health.message;
      if (argv.restart && health.state === 'passes_stopped') {
        message += `; not restarting a daemon that still runs: stop it first (kill ${health.pid}), then run this again`;
      }
      if (argv.json) printJson({ ...health, message });
      else process.stdout.write(`${message}\n`);
      process.exitCode = healthExitCode(health);
      return;
    }
    const outcome = await restartDaemon(paths, process.env, argv.wait * 1000);
    const restart = { from_state: health.state, from_message: health.message, pid: outcome.pid, ok: outcome.ok, waited_ms: outcome.waitedMs, ...(outcome.ok ? {} : { reason: outcome.reason }) };
    if (argv.json) printJson({ ...outcome.health, restart });
    else if (outcome.ok) process.stdout.write(`${health.message}; started a new one: ${outcome.health.message}\n`);
    else process.stdout.write(`${health.message}; restart failed: ${outcome.reason}\n`);
    process.exitCode = outcome.ok ? 0 : 1;
  },
};
