import type { SpecFolder } from '../contract/worker-spec.js';
import { checkRun, type ProcessIdentity } from '../process/identity.js';
import { stopProcess } from '../process/terminate.js';
import type { HomePaths } from '../store/home.js';
import { findSpec, listSpecIds, readSpec } from '../store/specs.js';
import { stopGraceMs } from '../worker/context.js';
import type { ApplyContext } from './apply.js';
import type { Departed } from './observer.js';

/**
 * At start, a finished spec (completed/ or failed/) that still records a live process of its own is an
 * orphan: an operator moved it by hand while it ran, or a daemon died mid-way.
 */
export function findOrphansAtStart(paths: HomePaths): Departed[] {
  const found: Departed[] = [];
  for (const folder of ['completed', 'failed'] as const satisfies readonly SpecFolder[]) {
    for (const id of listSpecIds(paths, folder)) {
      const read = readSpec(paths, folder, id);
      if (read === undefined || !read.ok) continue;
      const e = read.spec.execution;
      if (e?.pid === null || e?.pid === undefined || e.process_start_ticks === null || e.process_start_ticks === undefined) continue;
      const identity: ProcessIdentity = { pid: e.pid, startTicks: e.process_start_ticks, bootId: e.boot_id ?? '' };
      const runId = e.run_id ?? null;
      if (checkRun({ ...identity, runId }) === 'alive') found.push({ workerId: id, identity, runId });
    }
  }
  return found;
}

/** Stops each orphan still alive and positively identified; a worker whose spec came back to active/ is left alone. */
export async function stopOrphans(ctx: ApplyContext, orphans: readonly Departed[]): Promise<void> {
  await Promise.all(
    orphans.map(async ({ workerId, identity, runId }) => {
      if (identity === null || checkRun({ ...identity, runId }) !== 'alive') return;
      const where = findSpec(ctx.paths, workerId);
      if (where?.folder === 'active') return;
      const outcome = await stopProcess({ ...identity, runId }, stopGraceMs(ctx.lifecycle(), where?.ok === true ? where.spec.worker_type : ''));
      ctx.emit([
        {
          event: 'worker_orphan_stopped',
          worker_id: workerId,
          task_id: where?.ok === true ? where.spec.task_id : null,
          data: { pid: identity.pid, outcome, spec_folder: where?.folder ?? null, reason: 'its process ran while its spec was no longer in active/' },
        },
      ]);
    }),
  );
}
