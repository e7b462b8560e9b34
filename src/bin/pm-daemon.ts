#!/usr/bin/env node
// scripts/pm-daemon.sh runs this lean entry: the daemon without yargs and the CLI's other commands, which cost its
// start about 65 ms (docs/benchmarks.md). What it runs is src/daemon/run-daemon.ts, shared with the
// `commit-relay pm-daemon` command, whose flags and errors this mirrors.
import { describeError, exitCodeFor, RelayError } from '../errors.js';
import { runDaemon, type DaemonRunOptions } from '../daemon/run-daemon.js';
import { flagValue } from './flags.js';

const HELP = `Usage: pm-daemon.sh [--once] [--demo] [--quiet] [--interval SECONDS] [--concurrency N]

Runs the PM daemon in the foreground (--once: one full pass, then exit 0). Ctrl-C (or TERM) stops it and leaves
the workers running.

  --once               make one full pass and exit
  --demo               queue the demo tasks when the queue has never held a task
  --quiet              print no event lines on stdout (the log and pm-activity.jsonl still get them)
  --interval SECONDS   seconds between full passes (overrides PM_LOOP_INTERVAL and pm-daemon.json)
  --concurrency N      workers running at once (overrides WORKER_CONCURRENCY)
  -h, --help           this help
  --version            commit-relay's version
`;

const BOOLEAN_FLAGS = ['once', 'demo', 'quiet'] as const;
const NUMBER_FLAGS = ['interval', 'concurrency'] as const;
type BooleanFlag = (typeof BOOLEAN_FLAGS)[number];
type NumberFlag = (typeof NUMBER_FLAGS)[number];

const isBoolean = (name: string): name is BooleanFlag => (BOOLEAN_FLAGS as readonly string[]).includes(name);
const isNumber = (name: string): name is NumberFlag => (NUMBER_FLAGS as readonly string[]).includes(name);

/**
 * Hand-parsed flags with the yargs command's errors: `--flag`, `--flag=true|false`, `--flag true|false` and `--no-flag`
 * for the switches, `--flag value` or `--flag=value` for the numbers; each at most once (yargs takes the last of a
 * repeated switch; here it is an error). Returns 'help' or 'version' for those, wherever they are.
 */
function parseDaemonArgs(argv: readonly string[]): DaemonRunOptions | 'help' | 'version' {
  // As yargs: --help or --version anywhere wins over anything wrong around it.
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  if (argv.includes('--version')) return 'version';
  const switches: Partial<Record<BooleanFlag, boolean>> = {};
  const numbers: Partial<Record<NumberFlag, number>> = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const word = arg.startsWith('--') ? arg.slice(2, eq > 0 ? eq : undefined) : '';
    const negated = word.startsWith('no-') && isBoolean(word.slice(3));
    const name = negated ? word.slice(3) : word;
    if (isBoolean(name)) {
      if (switches[name] !== undefined) throw new RelayError('USAGE', `--${name} was given more than once`);
      let value = eq > 0 ? arg.slice(eq + 1) : undefined;
      // As yargs: a following word true or false is the switch's value (--quiet false).
      const next = argv[i + 1];
      if (value === undefined && !negated && (next === 'true' || next === 'false')) {
        value = next;
        i += 1;
      }
      if (value !== undefined && (negated || (value !== 'true' && value !== 'false'))) throw new RelayError('USAGE', `--${name} takes no value, got ${arg}`);
      switches[name] = negated ? false : value !== 'false';
      continue;
    }
    if (!isNumber(name)) throw new RelayError('USAGE', `Unknown argument: ${arg.replace(/^-+/, '').replace(/=.*$/, '')}`);
    const { value, last } = flagValue(argv, i, eq, name);
    // As yargs: a next word like -x is a flag, not this flag's value (a negative number is a value).
    if (last > i && value.startsWith('-') && Number.isNaN(Number(value))) throw new RelayError('USAGE', `Not enough arguments following: ${name}`);
    i = last;
    if (numbers[name] !== undefined) throw new RelayError('USAGE', `--${name} was given more than once`);
    numbers[name] = Number(value);
  }
  return { once: switches.once ?? false, demo: switches.demo ?? false, quiet: switches.quiet ?? false, interval: numbers.interval, concurrency: numbers.concurrency };
}

// A reader that goes away (`pm-daemon.sh | head`) only ends the printing: the daemon's files are what matter.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

async function main(argv: readonly string[]): Promise<number> {
  try {
    const parsed = parseDaemonArgs(argv);
    if (parsed === 'help' || parsed === 'version') {
      process.stdout.write(parsed === 'help' ? HELP : `${(await import('../version.js')).relayVersion()}\n`);
      return 0;
    }
    await runDaemon(parsed);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    process.stderr.write(`commit-relay: ${describeError(error).replace(/\s*\n\s*/g, ' ').trim()}\n`);
    return exitCodeFor(error);
  }
}

process.exitCode = await main(process.argv.slice(2));
