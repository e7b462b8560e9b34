import type { Argv, CommandModule } from 'yargs';
import { CHECKIN_STATUS_VALUES, writeCheckin } from '../../worker/checkin.js';
import { homeFromEnv } from '../context.js';

interface Args {
  'worker-id'?: string;
  status?: string;
  progress?: string;
  message?: string;
  'session-id'?: string;
  'retry-at'?: string;
}

/** The same as scripts/checkin.sh (which runs the lean dist/bin/checkin.js), through the full CLI. */
export const checkinCommand: CommandModule<object, Args> = {
  command: 'checkin',
  describe: "Record a worker's check-in (scripts/checkin.sh is the fast way)",
  builder: (y: Argv) =>
    y
      .option('worker-id', { type: 'string', requiresArg: true, describe: 'the worker (default: $WORKER_ID)' })
      .option('status', { type: 'string', requiresArg: true, describe: `one of ${CHECKIN_STATUS_VALUES.join(', ')} (default in_progress)` })
      .option('progress', { type: 'string', requiresArg: true, describe: '0..100' })
      .option('message', { type: 'string', requiresArg: true, describe: 'a short note' })
      .option('session-id', { type: 'string', requiresArg: true, describe: "the agent's session id (for a resume)" })
      .option('retry-at', { type: 'string', requiresArg: true, describe: 'with --status rate_limited: when the limit resets (ISO-8601)' }) as unknown as Argv<Args>,
  handler: (argv) => {
    writeCheckin(homeFromEnv(), { workerId: argv['worker-id'], status: argv.status, progress: argv.progress, message: argv.message, sessionId: argv['session-id'], retryAt: argv['retry-at'] }, process.env);
  },
};
