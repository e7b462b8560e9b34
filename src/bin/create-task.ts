#!/usr/bin/env node
// scripts/create-task.sh runs this lean entry: no yargs, no zod, no pino, no bullmq on the file backend's
// usual way, so a call costs little more than node's own start. The logic is src/queue/create-tasks.ts,
// shared with the `commit-relay create-task` command, whose flags and errors this mirrors.
import { describeError, exitCodeFor, RelayError } from '../errors.js';
import { runCreateTask } from '../queue/create-task-input.js';
import { refreshShellCache } from '../queue/shell-cache.js';
import { flagValue } from './flags.js';

const HELP = `Usage: create-task.sh --description D [--priority P] [--worker-type T] [--metadata JSON] [--task-id ID] [--json]
       create-task.sh --from-file FILE [--json]

Queues a task; prints its id alone on stdout.

  --description D   what the worker is asked to do (required without --from-file)
  --priority P      one of critical, high, medium, low (default: medium)
  --worker-type T   a worker type of worker-types.json (default: implementation, else the first)
  --metadata JSON   a JSON object kept with the task
  --task-id ID      the task's id (default: a new one); a task with this id already queued is not queued again
  --from-file FILE  queue the tasks of a JSON-lines file (- for stdin), one a line:
                    {"description", "priority"?, "worker_type"?, "metadata"?, "task_id"?}; every line is
                    checked before any is queued (all or none); prints the ids one a line, in order
  --json            print the whole task as JSON, with where it was queued (queue) and whether it is new
                    (created); one a line with --from-file
  -h, --help        this help
  --version         commit-relay's version
`;

const VALUE_FLAGS = ['description', 'priority', 'worker-type', 'metadata', 'task-id', 'from-file'] as const;
type Flag = (typeof VALUE_FLAGS)[number];

interface Parsed {
  readonly values: Partial<Record<Flag, string>>;
  readonly json: boolean;
}

/**
 * Hand-parsed flags with the yargs command's errors: `--flag value` or `--flag=value`, each at most once.
 * Returns 'help' or 'version' for those.
 */
function parseArgs(argv: readonly string[]): Parsed | 'help' | 'version' {
  const values: Partial<Record<Flag, string>> = {};
  let json: boolean | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--version') return 'version';
    const eq = arg.indexOf('=');
    const name = (arg.startsWith('--') && eq > 0 ? arg.slice(2, eq) : arg.slice(2)) as Flag | 'json';
    if (!arg.startsWith('--') || (name !== 'json' && !(VALUE_FLAGS as readonly string[]).includes(name))) {
      throw new RelayError('USAGE', `Unknown argument: ${arg.replace(/^-+/, '').replace(/=.*$/, '')}`);
    }
    if (name === 'json') {
      if (json !== undefined) throw new RelayError('USAGE', '--json was given more than once');
      if (eq > 0 && arg.slice(eq + 1) !== 'true' && arg.slice(eq + 1) !== 'false') throw new RelayError('USAGE', `--json takes no value, got ${arg}`);
      json = eq < 0 || arg.slice(eq + 1) === 'true';
      continue;
    }
    const { value, last } = flagValue(argv, i, eq, name);
    i = last;
    if (values[name] !== undefined) throw new RelayError('USAGE', `--${name} was given more than once`);
    values[name] = value;
  }
  return { values, json: json ?? false };
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  try {
    const parsed = parseArgs(argv);
    if (parsed === 'help' || parsed === 'version') {
      process.stdout.write(parsed === 'help' ? HELP : `${(await import('../version.js')).relayVersion()}\n`);
      return 0;
    }
    process.stdout.write(await runCreateTask({ ...parsed.values, json: parsed.json }, env));
    // What scripts/create-task.sh needs to decide the next call alone (src/queue/shell-cache.ts).
    refreshShellCache(env);
    return 0;
  } catch (error) {
    process.stderr.write(`commit-relay: ${describeError(error).replace(/\s*\n\s*/g, ' ').trim()}\n`);
    return exitCodeFor(error);
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
