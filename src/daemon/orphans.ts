import type { SpecFolder } from '../contract/worker-spec.js';
import { describeError } from '../errors.js';
import { checkRun, type ProcessIdentity } from '../process/identity.js';
import { stopRun } from '../process/terminate.js';
import { createJsonIfAbsentSync } from '../store/atomic.js';
import { ensureWorkingFolders, type HomePaths } from '../store/home.js';
import { findArchivedSpecWithBatch, findSpec, listSpecIds, readSpec } from '../store/specs.js';
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

/**
 * A departed worker whose spec is in no folder of the home (removed, not moved: not in active/, completed/,
 * failed/, nor archived/ with its run) while its run still lives, ours.
 */
function vanishedWhileLive(paths: HomePaths, d: Departed): boolean {
  if (d.memory?.spec === undefined || d.memory.spec === null || d.identity === null) return false;
  if (checkRun({ ...d.identity, runId: d.runId }) !== 'alive') return false;
  try {
    if (findSpec(paths, d.workerId) !== undefined) return false;
    const archived = findArchivedSpecWithBatch(paths, d.workerId);
    return archived === undefined || (archived.spec.execution?.run_id ?? null) !== d.runId;
  } catch {
    return false;
  }
}

/** How long a vanished spec's worker is held before it is taken for an orphan (rm -rf removes a folder's files before the folder). */
export const VANISHED_HOLD_MS = 1000;

interface Held {
  readonly departed: Departed;
  /** When it was first held (daemon clock). */
  readonly since: number;
  /** active/ was found removed or replaced while it was held: it is to be restored, however long that takes. */
  readonly replaced: boolean;
}

/**
 * Workers whose spec vanished (in no folder at all) while their run lives. coordination/ removed while the daemon
 * runs (the README's "start over" at the wrong moment) is not a reason to stop the fleet, nor to leave it
 * unsupervised: when active/ itself was removed or replaced, their specs are written again from the daemon's last
 * reading (restoreSpecs), as soon as coordination/ is there to hold them. A spec removed by hand from a folder that
 * stays is an orphan as before, stopped, but only after VANISHED_HOLD_MS and a full reading: `rm -rf` removes the
 * files before their folder, so the reading that sees the first of them gone may come before the folder is gone.
 */
export class VanishedSpecs {
  private held: Held[] = [];

  /**
   * At a full reading: which departed workers (this reading's, and those held before) to restore, and which go on to
   * the orphan stops; the others stay held.
   */
  sort(paths: HomePaths, departed: readonly Departed[], activeReplaced: boolean, now: number): { restore: Departed[]; orphans: Departed[] } {
    const before = this.held;
    this.held = [];
    const restore: Departed[] = [];
    const orphans: Departed[] = [];
    for (const h of before) {
      if (!vanishedWhileLive(paths, h.departed)) orphans.push(h.departed);
      else if (h.replaced || activeReplaced) restore.push(h.departed);
      else if (now - h.since < VANISHED_HOLD_MS) this.held.push(h);
      else orphans.push(h.departed);
    }
    for (const d of departed) {
      if (!vanishedWhileLive(paths, d)) orphans.push(d);
      else if (activeReplaced) restore.push(d);
      else this.held.push({ departed: d, since: now, replaced: false });
    }
    return { restore, orphans };
  }

  /** When to look again for those held (a full reading), in ms from now; null when none is. */
  lookAgainInMs(now: number): number | null {
    if (this.held.length === 0) return null;
    return Math.min(...this.held.map((h) => (h.replaced ? VANISHED_HOLD_MS : Math.max(0, h.since + VANISHED_HOLD_MS - now)))) + 10;
  }

  /** Workers whose restore could not be made yet (coordination/ missing, a write failed): restored at a later reading. */
  holdForRestore(departed: readonly Departed[], now: number): void {
    for (const d of departed) this.held.push({ departed: d, since: now, replaced: true });
  }
}

const RESTORE_REASON = "worker-specs/active/ was removed or replaced while its worker ran: its spec is written again from the daemon's last reading";

/**
 * Writes each vanished worker's spec into active/ again, as the daemon last read it, only where no file of that name
 * is there (never over what someone put back), after the spec folders it will move through and the folders of its
 * check-ins and its end. coordination/ itself is never made (an operator restoring a copy of it puts it there):
 * without it, every one is left to be tried again. Returns the events, the workers restored, and those to try again.
 */
export function restoreSpecs(paths: HomePaths, vanished: readonly Departed[]): { events: EventInput[]; restored: Departed[]; later: Departed[]; errors: string[] } {
  const events: EventInput[] = [];
  const restored: Departed[] = [];
  try {
    if (!ensureWorkingFolders(paths)) return { events, restored, later: [...vanished], errors: [] };
  } catch (error) {
    return { events, restored, later: [...vanished], errors: [describeError(error)] };
  }
  const later: Departed[] = [];
  const errors: string[] = [];
  for (const d of vanished) {
    const spec = d.memory?.spec;
    if (spec === undefined || spec === null) continue;
    try {
      // false: a file of that name is there now (put back by someone): the next reading reads it.
      if (!createJsonIfAbsentSync(paths.specFile('active', d.workerId), spec)) continue;
      restored.push(d);
      events.push({
        event: 'spec_restored',
        worker_id: d.workerId,
        task_id: spec.task_id,
        data: { pid: d.identity?.pid ?? null, run_id: d.runId, status: spec.status, reason: RESTORE_REASON },
      });
    } catch (error) {
      later.push(d);
      errors.push(describeError(error));
    }
  }
  return { events, restored, later, errors };
}
