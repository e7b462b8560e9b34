import { mkdirSync } from 'node:fs';
import type { SpecFolder } from '../contract/worker-spec.js';
import { describeError } from '../errors.js';
import { checkRun, type ProcessIdentity } from '../process/identity.js';
import { stopRun } from '../process/terminate.js';
import { createJsonIfAbsentSync } from '../store/atomic.js';
import type { HomePaths } from '../store/home.js';
import { findSpec, listSpecIds, readSpec } from '../store/specs.js';
import { stopGraceMs } from '../worker/context.js';
import type { EventInput } from '../store/activity-log.js';
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

/** The run a spec records (pid, start ticks, token), or undefined when it records none. */
function recordedRun(workerId: string, execution: { pid?: number | null; process_start_ticks?: number | null; boot_id?: string | null; run_id?: string | null } | undefined): Departed | undefined {
  if (execution?.pid === null || execution?.pid === undefined || execution.process_start_ticks === null || execution.process_start_ticks === undefined) return undefined;
  return { workerId, identity: { pid: execution.pid, startTicks: execution.process_start_ticks, bootId: execution.boot_id ?? '' }, runId: execution.run_id ?? null };
}

/**
 * Every run a departed worker may have left running, not only the one a pass last saw alive (the observer's
 * memory): the run its spec records wherever it went (an operator's `mv` into failed/ can carry a run the
 * daemon started just before, which no pass had seen yet), and the run the daemon itself last started for
 * it (a hand edit that overwrote the daemon's record can leave that run recorded nowhere). Each is stopped
 * only if still alive and carrying its run's token (stopOrphans), so a stale candidate costs nothing.
 */
export function departedRuns(paths: HomePaths, departed: readonly Departed[], startedRunOf: (workerId: string) => Departed | undefined): Departed[] {
  const out: Departed[] = [];
  const seen = new Set<string>();
  const add = (run: Departed | undefined): void => {
    if (run === undefined) return;
    const key = run.identity === null ? `${run.workerId} none` : `${run.workerId} ${run.identity.pid} ${run.identity.startTicks}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(run);
  };
  for (const d of departed) {
    add(d);
    try {
      const where = findSpec(paths, d.workerId);
      if (where?.ok === true && where.folder !== 'active') add(recordedRun(d.workerId, where.spec.execution));
    } catch {
      // Unreadable now: the other candidates still count.
    }
    add(startedRunOf(d.workerId));
  }
  return out;
}

/** Stops each orphan still alive and positively identified; a worker whose spec came back to active/ is left alone. */
export async function stopOrphans(ctx: ApplyContext, orphans: readonly Departed[]): Promise<void> {
  await Promise.all(
    orphans.map(async ({ workerId, identity, runId }) => {
      if (identity === null || checkRun({ ...identity, runId }) !== 'alive') return;
      const where = findSpec(ctx.paths, workerId);
      if (where?.folder === 'active') return;
      // Its group, and what escaped it (setsid) carrying the token, within one grace.
      const { outcome } = await stopRun({ ...identity, runId }, stopGraceMs(ctx.lifecycle(), where?.ok === true ? where.spec : undefined), { everywhere: true });
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

/**
 * The mass-action guard for orphan stops: a whole home vanishing (coordination/ removed by mistake) is not
 * a reason to stop every worker at once. When the orphans of one pass are at least `massActionMin` workers
 * and more than half the fleet, their stops are held for one pass (`actions_held`); then they go ahead,
 * and stopOrphans leaves alone any whose spec is back in active/ by then.
 */
export class OrphanGuard {
  private held: Departed[] = [];

  constructor(private readonly massActionMin: number) {}

  /** This pass's departed workers (only those seen alive count) and how many still run: what to stop now, and the event when holding. */
  decide(departed: readonly Departed[], running: number): { stop: Departed[]; held?: EventInput } {
    const orphans = departed.filter((d) => d.identity !== null);
    const before = this.held;
    this.held = [];
    const fleet = orphans.length + running;
    if (before.length === 0 && orphans.length >= this.massActionMin && orphans.length * 2 > fleet) {
      this.held = orphans;
      const reason = `${orphans.length} of ${fleet} running workers left active/ at once; holding their stops for one pass and re-checking`;
      return { stop: [], held: { event: 'actions_held', data: { workers: orphans.length, fleet, reason, worker_ids: orphans.slice(0, 50).map((d) => d.workerId) } } };
    }
    return { stop: [...before, ...orphans] };
  }
}

/** A departed worker whose spec is in no folder of the home (removed, not moved) while its run still lives, ours. */
function vanishedWhileLive(paths: HomePaths, d: Departed): boolean {
  if (d.spec === undefined || d.spec === null || d.identity === null) return false;
  if (checkRun({ ...d.identity, runId: d.runId }) !== 'alive') return false;
  try {
    return findSpec(paths, d.workerId) === undefined;
  } catch {
    return false;
  }
}

/**
 * Workers whose spec vanished (in no folder at all) while their run lives. coordination/ removed while the daemon
 * runs (the README's "start over" at the wrong moment) is not a reason to stop the fleet, nor to leave it
 * unsupervised: when active/ itself was removed or replaced, their specs are written again from the daemon's last
 * reading (restoreSpecs). A spec removed by hand from a folder that stayed is an orphan as before, stopped. Such a
 * worker is held for one full reading first: `rm -rf` removes the files before their folder, so the reading that
 * sees the first of them gone may come before the folder is gone.
 */
export class VanishedSpecs {
  private held: Departed[] = [];

  /** At a full reading: which departed workers to restore, which go on to the orphan stops; `holding` when some wait for the next reading. */
  sort(paths: HomePaths, departed: readonly Departed[], activeReplaced: boolean): { restore: Departed[]; orphans: Departed[]; holding: boolean } {
    const before = this.held;
    this.held = [];
    const restore: Departed[] = [];
    const orphans: Departed[] = [];
    for (const d of before) (activeReplaced && vanishedWhileLive(paths, d) ? restore : orphans).push(d);
    for (const d of departed) {
      if (!vanishedWhileLive(paths, d)) orphans.push(d);
      else if (activeReplaced) restore.push(d);
      else this.held.push(d);
    }
    return { restore, orphans, holding: this.held.length > 0 };
  }

  /** A restore that failed is tried again at the next full reading. */
  holdAgain(departed: readonly Departed[]): void {
    this.held.push(...departed);
  }
}

const RESTORE_REASON = "worker-specs/active/ was removed or replaced while its worker ran: its spec is written again from the daemon's last reading";

/**
 * Writes each vanished worker's spec into active/ again, as the daemon last read it, only where no file of that name
 * is there (never over what someone put back). Returns the events, and the workers whose spec could not be written.
 */
export function restoreSpecs(paths: HomePaths, vanished: readonly Departed[]): { events: EventInput[]; failed: Departed[]; errors: string[] } {
  const events: EventInput[] = [];
  const failed: Departed[] = [];
  const errors: string[] = [];
  try {
    // Only what a running worker needs: its spec's folder, and where its check-ins and its end are written.
    for (const dir of [paths.specDir('active'), paths.checkins, paths.exits]) mkdirSync(dir, { recursive: true });
  } catch (error) {
    return { events, failed: [...vanished], errors: [`cannot create the folders of ${paths.coordination}: ${describeError(error)}`] };
  }
  for (const d of vanished) {
    const spec = d.spec;
    if (spec === undefined || spec === null) continue;
    try {
      if (!createJsonIfAbsentSync(paths.specFile('active', d.workerId), spec)) continue;
      events.push({
        event: 'spec_restored',
        worker_id: d.workerId,
        task_id: spec.task_id,
        data: { pid: d.identity?.pid ?? null, run_id: d.runId, status: spec.status, reason: RESTORE_REASON },
      });
    } catch (error) {
      failed.push(d);
      errors.push(describeError(error));
    }
  }
  return { events, failed, errors };
}
