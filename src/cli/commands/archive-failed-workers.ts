import { relative } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { archiveFailedWorkers, type ArchiveEntry } from '../../ops/archive.js';
import { openHomeForReading } from '../../ops/home-read.js';
import { homeFromEnv, printJson } from '../context.js';

interface Args {
  json: boolean;
  'dry-run': boolean;
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ');
const entryLine = (e: ArchiveEntry): string => `  ${e.worker_id}  ${e.error === null ? '(no error recorded)' : oneLine(e.error)}\n`;

export const archiveFailedWorkersCommand: CommandModule<object, Args> = {
  command: 'archive-failed-workers',
  describe: 'Move every failed/ spec into a new worker-specs/archived/<batch>/ with MANIFEST.json (when, how many, which, why)',
  builder: (y: Argv) =>
    y
      .option('dry-run', { type: 'boolean', default: false, describe: 'list what would be archived and change nothing' })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const dryRun = argv['dry-run'];
    const paths = dryRun ? openHomeForReading() : homeFromEnv();
    const result = await archiveFailedWorkers(paths, { dryRun });
    if (result.failures > 0) process.exitCode = 1;
    if (argv.json) {
      printJson(result);
      return;
    }
    const out = (text: string): boolean => process.stdout.write(text);
    const failedDir = relative(paths.home, paths.specDir('failed'));
    if (result.archived.length === 0 && result.not_moved.length === 0) {
      out(`nothing to archive: ${failedDir}/ holds no spec\n`);
      return;
    }
    if (dryRun) {
      out(`would archive ${result.archived.length} failed worker spec(s) from ${failedDir}/ (dry run: nothing changed)\n`);
    } else if (result.batch_dir !== null) {
      out(`archived ${result.archived.length} failed worker spec(s) to ${relative(paths.home, result.batch_dir)}/ (MANIFEST.json says when, which and why)\n`);
    } else {
      out('archived nothing\n');
    }
    for (const entry of result.archived) out(entryLine(entry));
    for (const skipped of result.not_moved) out(`  not moved: ${skipped.worker_id}: ${oneLine(skipped.reason)}\n`);
  },
};
