#!/usr/bin/env node
// scripts/checkin.sh runs this lean entry: node built-ins and zod-free modules only, so it starts fast.
import { describeError, exitCodeFor, quote, RelayError } from '../errors.js';
import { homePaths, resolveHome } from '../store/home.js';
import { CHECKIN_STATUS_VALUES, writeCheckin, type CheckinInput } from '../worker/checkin.js';
import { relayVersion } from '../version.js';

const HELP = `Usage: checkin.sh [--worker-id ID] [--status S] [--progress N] [--message M] [--session-id ID] [--retry-at ISO]

Records a worker's check-in in coordination/worker-checkins/<ID>.json.

  --worker-id ID  the worker (default: $WORKER_ID, set inside every worker; a worker checks in only for itself)
  --status S      one of ${CHECKIN_STATUS_VALUES.join(', ')} (default: in_progress)
  --progress N    0..100 (default: the previous check-in's, 100 with --status completed)
  --message M     a short note for people
  --session-id ID the agent's session id (kept in the spec; a type's resume_command restarts with it)
  --retry-at ISO  with --status rate_limited: when the limit resets (ISO-8601 with a zone)
  -h, --help      this help
  --version       commit-relay's version
`;

const FLAGS: Readonly<Record<string, keyof CheckinInput>> = {
  '--worker-id': 'workerId',
  '--status': 'status',
  '--progress': 'progress',
  '--message': 'message',
  '--session-id': 'sessionId',
  '--retry-at': 'retryAt',
};

/** Hand-parsed flags: `--flag value` or `--flag=value`, each at most once. Returns undefined for --help. */
function parseCheckinArgs(argv: readonly string[]): CheckinInput | undefined {
  const input: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return undefined;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    // Own keys only: `constructor` and the like, inherited from Object.prototype, are unknown arguments too.
    const key = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined;
    if (key === undefined) throw new RelayError('USAGE', `unknown argument ${quote(arg)} (see --help)`);
    let value: string | undefined;
    if (name !== arg) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i += 1;
    }
    if (value === undefined) throw new RelayError('USAGE', `${name} needs a value`);
    if (key in input) throw new RelayError('USAGE', `${name} given twice`);
    input[key] = value;
  }
  return input as CheckinInput;
}

function main(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  if (argv.length === 1 && argv[0] === '--version') {
    process.stdout.write(`${relayVersion()}\n`);
    return 0;
  }
  try {
    const input = parseCheckinArgs(argv);
    if (input === undefined) {
      process.stdout.write(HELP);
      return 0;
    }
    writeCheckin(homePaths(resolveHome(env.COMMIT_RELAY_HOME)), input, env);
    return 0;
  } catch (error) {
    process.stderr.write(`checkin: ${describeError(error).replace(/\s*\n\s*/g, ' ')}\n`);
    return exitCodeFor(error);
  }
}

process.exitCode = main(process.argv.slice(2), process.env);
