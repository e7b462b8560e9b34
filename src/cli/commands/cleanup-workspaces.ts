import type { Argv, CommandModule } from 'yargs';
import { cleanupWorkspaces, type WorkspaceOutcome } from '../../workspace/cleanup.js';
import { homeFromEnv, printJson } from '../context.js';

interface Args {
  'dry-run': boolean;
  force: boolean;
  json: boolean;
}

function line(o: WorkspaceOutcome, dryRun: boolean): string {
  if (dryRun) return `${o.action === 'remove' ? 'would remove' : 'keep'} ${o.worker_id}: ${o.reason}`;
  if (o.action === 'keep') return `kept ${o.worker_id}: ${o.reason}`;
  if (!o.removed) return `FAILED ${o.worker_id}: ${o.error ?? 'not removed'}`;
  return `removed ${o.worker_id}: ${o.reason}; ${o.branch_deleted ? `branch ${o.branch} deleted` : (o.error ?? `branch ${o.branch} kept`)}`;
}

export const cleanupWorkspacesCommand: CommandModule<object, Args> = {
  command: 'cleanup-workspaces',
  describe: "Remove finished workers' git worktrees (workspaces/<id>) that are merged into their base and clean; --force also unmerged or dirty ones",
  builder: (y: Argv) =>
    y
      .option('dry-run', { type: 'boolean', default: false, describe: 'say what would be done with each workspace, and why, changing nothing' })
      .option('force', { type: 'boolean', default: false, describe: 'also remove unmerged or dirty worktrees of finished workers (git branch -D); never an active or live one' })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const paths = homeFromEnv();
    const dryRun = argv['dry-run'];
    const outcomes = await cleanupWorkspaces(paths, { dryRun, force: argv.force });
    const failures = outcomes.filter((o) => o.action === 'remove' && !dryRun && !o.removed).length;
    if (argv.json) printJson({ dry_run: dryRun, force: argv.force, workspaces: outcomes });
    else {
      for (const o of outcomes) process.stdout.write(`${line(o, dryRun)}\n`);
      const removing = outcomes.filter((o) => (dryRun ? o.action === 'remove' : o.removed)).length;
      process.stdout.write(`${outcomes.length} workspace${outcomes.length === 1 ? '' : 's'}: ${removing} ${dryRun ? 'would be removed (dry run: nothing changed)' : 'removed'}\n`);
    }
    if (failures > 0) process.exitCode = 1;
  },
};
