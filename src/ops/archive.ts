import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isValidId } from '../contract/ids.js';
import { nowIso } from '../contract/time.js';
import { RelayError, describeError } from '../errors.js';
import { appendEvent } from '../store/activity-log.js';
import { writeJsonAtomic } from '../store/atomic.js';
import type { HomePaths } from '../store/home.js';
import { listSpecIds, readSpec, withSpecLock } from '../store/specs.js';

/** One failed spec as the manifest records it. */
export interface ArchiveEntry {
  readonly worker_id: string;
  readonly task_id: string | null;
  readonly worker_type: string | null;
  /** The spec's `error`: why it failed (or why the spec itself could not be read). */
  readonly error: string | null;
  readonly failed_at: string | null;
  readonly restart_count: number | null;
}

export interface NotMoved {
  readonly worker_id: string;
  readonly reason: string;
}

export interface ArchiveResult {
  readonly dry_run: boolean;
  /** The batch folder name; null on a dry run or when there was nothing to archive. */
  readonly batch: string | null;
  readonly batch_dir: string | null;
  readonly archived: readonly ArchiveEntry[];
  /** Specs listed but not moved: gone meanwhile (someone else moved them) or a move that failed. */
  readonly not_moved: readonly NotMoved[];
  /** Moves that failed (a subset of not_moved): the command exits non-zero when there are any. */
  readonly failures: number;
}

/** batch-20251121T101500Z-3f9a1c: sortable by time, unique across concurrent runs. */
export function newBatchName(now: number = Date.now()): string {
  return `batch-${nowIso(now).replace(/[-:]/g, '').replace(/\.\d+/, '')}-${randomBytes(3).toString('hex')}`;
}

/** What the manifest says of one spec, read from its file; an unreadable spec is still archived, with why. */
function describeFailedSpec(paths: HomePaths, workerId: string): ArchiveEntry {
  const read = readSpec(paths, 'failed', workerId);
  if (read === undefined) return { worker_id: workerId, task_id: null, worker_type: null, error: null, failed_at: null, restart_count: null };
  if (!read.ok) return { worker_id: workerId, task_id: null, worker_type: null, error: `unreadable spec: ${read.error.message}`, failed_at: null, restart_count: null };
  const { spec } = read;
  return {
    worker_id: workerId,
    task_id: spec.task_id,
    worker_type: spec.worker_type,
    error: spec.error ?? null,
    failed_at: spec.execution?.completed_at ?? null,
    restart_count: spec.execution?.restart_count ?? null,
  };
}

interface Manifest {
  readonly batch: string;
  readonly status: 'in_progress' | 'complete';
  readonly created_at: string;
  readonly completed_at: string | null;
  readonly source: string;
  readonly count: number;
  readonly worker_ids: readonly string[];
  readonly workers: readonly ArchiveEntry[];
  readonly not_moved: readonly NotMoved[];
}

/**
 * Moves every spec of failed/ into a new archived/<batch>/, each with one rename under its spec lock.
 * MANIFEST.json is written first (in_progress, listing what is planned) and last (complete, listing what
 * moved), so a run killed at any instant leaves each spec either in failed/ or in the batch, and the
 * manifest says which run it was. A dry run reads only.
 */
export async function archiveFailedWorkers(paths: HomePaths, options: { readonly dryRun: boolean; readonly now?: number }): Promise<ArchiveResult> {
  const now = options.now ?? Date.now();
  const allIds = listSpecIds(paths, 'failed');
  const ids = allIds.filter((id) => isValidId(id));
  const badNames: NotMoved[] = allIds.filter((id) => !isValidId(id)).map((id) => ({ worker_id: id, reason: 'its file name is not a valid worker id; left in failed/' }));
  const planned = ids.map((id) => describeFailedSpec(paths, id));
  if (options.dryRun || planned.length === 0) {
    return { dry_run: options.dryRun, batch: null, batch_dir: null, archived: planned, not_moved: badNames, failures: 0 };
  }

  const batch = newBatchName(now);
  const dir = paths.archivedDir(batch);
  const manifestFile = join(dir, 'MANIFEST.json');
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new RelayError('IO_FAILED', `cannot create ${dir}: ${describeError(error)}`, { cause: error });
  }
  const base = { batch, created_at: nowIso(now), source: paths.specDir('failed') };
  await writeJsonAtomic(manifestFile, {
    ...base,
    status: 'in_progress',
    completed_at: null,
    count: planned.length,
    worker_ids: planned.map((e) => e.worker_id),
    workers: planned,
    not_moved: [],
  } satisfies Manifest);

  const archived: ArchiveEntry[] = [];
  const notMoved: NotMoved[] = [...badNames];
  let failures = 0;
  for (const entry of planned) {
    try {
      const moved = await withSpecLock(paths, entry.worker_id, () => {
        const source = paths.specFile('failed', entry.worker_id);
        if (!existsSync(source)) return undefined;
        // Re-read under the lock: the spec may have been rewritten since it was listed.
        const current = describeFailedSpec(paths, entry.worker_id);
        renameSync(source, join(dir, `${entry.worker_id}.json`));
        return current;
      });
      if (moved === undefined) notMoved.push({ worker_id: entry.worker_id, reason: 'no longer in failed/ (moved by someone else meanwhile)' });
      else archived.push(moved);
    } catch (error) {
      failures += 1;
      notMoved.push({ worker_id: entry.worker_id, reason: describeError(error) });
    }
  }

  if (archived.length === 0) {
    // Nothing moved after all: leave no empty batch behind.
    try {
      unlinkSync(manifestFile);
      rmdirSync(dir);
    } catch {
      // A leftover empty batch is harmless.
    }
    return { dry_run: false, batch: null, batch_dir: null, archived, not_moved: notMoved, failures };
  }

  await writeJsonAtomic(manifestFile, {
    ...base,
    status: 'complete',
    completed_at: nowIso(),
    count: archived.length,
    worker_ids: archived.map((e) => e.worker_id),
    workers: archived,
    not_moved: notMoved,
  } satisfies Manifest);
  appendEvent(paths, {
    event: 'worker_archived',
    data: {
      batch,
      count: archived.length,
      worker_ids: archived.slice(0, 200).map((e) => e.worker_id),
      ...(archived.length > 200 ? { worker_ids_truncated: true } : {}),
      manifest: manifestFile,
      not_moved: notMoved.length,
    },
  });
  return { dry_run: false, batch, batch_dir: dir, archived, not_moved: notMoved, failures };
}
