import type { Argv, CommandModule } from 'yargs';
import { assertValidId } from '../../contract/ids.js';
import { cleanZombie, findZombies, forgetInPmState, requireZombie, type ZombieFinding } from '../../ops/zombies.js';
import { formatDuration } from '../../ops/format.js';
import { homeFromEnv, printJson } from '../context.js';

interface Args {
  'dry-run': boolean;
  json: boolean;
  worker_id?: string;
}

function describe(z: ZombieFinding): string {
  const checkin = z.last_checkin_age_seconds === null ? 'never checked in' : `last check-in ${formatDuration(z.last_checkin_age_seconds)} ago`;
  return `ZOMBIE: ${z.worker_id}  ${z.evidence}; ${checkin}; restarts ${z.restart_count}`;
}

export const cleanupZombieWorkersCommand: CommandModule<object, Args> = {
  command: 'cleanup-zombie-workers [worker_id]',
  describe: 'List (--dry-run) or clean up zombie workers: running specs whose process is gone with no recorded exit',
  builder: (y: Argv) =>
    y
      .positional('worker_id', { type: 'string', describe: 'only this worker (refused, with why, when it is not a zombie)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'list each zombie with its evidence and change nothing' })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const only = argv.worker_id === undefined ? undefined : assertValidId(argv.worker_id);
    const paths = homeFromEnv();
    const zombies = only === undefined ? findZombies(paths) : [requireZombie(paths, only)];
    if (argv['dry-run']) {
      if (argv.json) printJson({ dry_run: true, count: zombies.length, zombies });
      else {
        for (const z of zombies) process.stdout.write(`${describe(z)}\n`);
        process.stdout.write(`${zombies.length} zombie worker${zombies.length === 1 ? '' : 's'} found (dry run: nothing changed)\n`);
      }
      return;
    }
    const cleaned: string[] = [];
    for (const z of zombies) if (await cleanZombie(paths, z.worker_id)) cleaned.push(z.worker_id);
    await forgetInPmState(paths, cleaned);
    if (argv.json) printJson({ dry_run: false, count: cleaned.length, cleaned, zombies: zombies.filter((z) => cleaned.includes(z.worker_id)) });
    else {
      for (const z of zombies) if (cleaned.includes(z.worker_id)) process.stdout.write(`cleaned ${z.worker_id}: ${z.evidence} -> worker-specs/failed/\n`);
      process.stdout.write(`${cleaned.length} zombie worker${cleaned.length === 1 ? '' : 's'} cleaned up\n`);
    }
  },
};
