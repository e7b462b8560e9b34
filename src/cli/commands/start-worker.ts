import { realpathSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { loadWorkerTypes } from '../../config/load.js';
import { assertValidId } from '../../contract/ids.js';
import { RelayError, errnoCode } from '../../errors.js';
import { startWorker } from '../../worker/start.js';
import { homeFromEnv } from '../context.js';

interface Args {
  spec: string;
}

/** How long start-worker waits for a just-killed previous process of a reset spec to go (the runbook's kill, reset, start). */
const WAIT_FOR_PREVIOUS_MS = 3000;

/** The worker id of a spec file that must sit directly in the home's worker-specs/active/. */
export function workerIdOfSpecFile(file: string, activeDir: string): string {
  let real: string;
  try {
    real = realpathSync(resolve(file));
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') throw new RelayError('SPEC_NOT_FOUND', `--spec ${file}: no such file`);
    throw new RelayError('USAGE', `--spec ${file}: cannot read it (${errnoCode(error) ?? String(error)})`);
  }
  const active = realpathSync(activeDir);
  if (dirname(real) !== active || !real.endsWith('.json')) {
    throw new RelayError('USAGE', `--spec must be a <worker_id>.json file in ${activeDir}, got ${file}`);
  }
  return assertValidId(basename(real, '.json'), 'worker');
}

export const startWorkerCommand: CommandModule<object, Args> = {
  command: 'start-worker',
  describe: 'Start the worker a pending spec in worker-specs/active/ describes; prints its pid',
  builder: (y: Argv) =>
    y.option('spec', { type: 'string', demandOption: true, requiresArg: true, describe: 'the spec file, in coordination/worker-specs/active/' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const paths = homeFromEnv();
    const workerId = workerIdOfSpecFile(argv.spec, paths.specDir('active'));
    const result = await startWorker({ paths, workerTypes: loadWorkerTypes(paths) }, workerId, { reason: 'start', waitForExitMs: WAIT_FOR_PREVIOUS_MS });
    process.stdout.write(`${result.pid}\n`);
  },
};
