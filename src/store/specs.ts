import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { assertValidId } from '../contract/ids.js';
import { formatZodIssues, parseJsonWith } from '../contract/parse.js';
import { SPEC_FOLDERS, workerSpecSchema, type SpecFolder, type WorkerSpec } from '../contract/worker-spec.js';
import { RelayError, describeError, errnoCode } from '../errors.js';
import { readTextIfExists, replaceJsonIfPresentSync, writeJsonAtomic, type WriteOptions } from './atomic.js';
import type { HomePaths } from './home.js';
import { specLockName, withLock } from './lock.js';

export type SpecRead =
  | { readonly ok: true; readonly spec: WorkerSpec; readonly file: string; readonly folder: SpecFolder }
  | { readonly ok: false; readonly error: RelayError; readonly file: string; readonly folder: SpecFolder; readonly workerId: string };

/** The ids of the specs in a folder: its `*.json` names that are valid ids (write-file-atomic's temp files are skipped). */
export function listSpecIds(paths: HomePaths, folder: SpecFolder): string[] {
  let names: string[];
  try {
    names = readdirSync(paths.specDir(folder));
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw new RelayError('IO_FAILED', `cannot list ${paths.specDir(folder)}: ${describeError(error)}`, { cause: error });
  }
  return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5));
}

/**
 * The specs this process parsed last, by file, with their text: the same text read again is the same spec, handed out
 * as a copy (callers own what they get) without a second validation. The schema's check costs 0.2-0.4 ms a spec in the
 * daemon, whose restart reads the worker's spec twice on its way to the new run, where a copy costs about 12 µs.
 */
const PARSED_KEPT = 256;
const parsed = new Map<string, { readonly text: string; readonly id: string; readonly spec: WorkerSpec }>();

/** Parses and validates a spec text; the file name must equal its worker_id. */
export function parseSpec(text: string, file: string, expectedId: string): WorkerSpec {
  const known = parsed.get(file);
  if (known !== undefined && known.text === text && known.id === expectedId) return structuredClone(known.spec);
  const spec = parseJsonWith(workerSpecSchema, text, file, 'SPEC_INVALID');
  if (spec.worker_id !== expectedId) {
    throw new RelayError('SPEC_INVALID', `${file}: worker_id "${spec.worker_id}" does not match the file name "${expectedId}.json"`, { details: { file } });
  }
  parsed.delete(file);
  if (parsed.size >= PARSED_KEPT) parsed.delete(parsed.keys().next().value as string);
  parsed.set(file, { text, id: expectedId, spec: structuredClone(spec) });
  return spec;
}

/** Reads one spec; a missing file is undefined, a broken one is `ok: false` with the reason. Never throws for bad content. */
export function readSpec(paths: HomePaths, folder: SpecFolder, workerId: string): SpecRead | undefined {
  // A name listed from the folder is read and reported if bad; an id that is a path never reaches the disk.
  if (workerId === '' || /[/\0]/.test(workerId)) assertValidId(workerId);
  const file = join(paths.specDir(folder), `${workerId}.json`);
  let text: string | undefined;
  try {
    text = readTextIfExists(file);
  } catch (error) {
    return { ok: false, error: error as RelayError, file, folder, workerId };
  }
  if (text === undefined) return undefined;
  try {
    assertValidId(workerId);
    return { ok: true, spec: parseSpec(text, file, workerId), file, folder };
  } catch (error) {
    const relay = error instanceof RelayError ? error : new RelayError('SPEC_INVALID', `${file}: ${describeError(error)}`, { cause: error });
    return { ok: false, error: relay, file, folder, workerId };
  }
}

/** Finds a worker's spec in active/, then completed/, then failed/. */
export function findSpec(paths: HomePaths, workerId: string): SpecRead | undefined {
  assertValidId(workerId);
  for (const folder of SPEC_FOLDERS) {
    const read = readSpec(paths, folder, workerId);
    if (read !== undefined) return read;
  }
  return undefined;
}

/**
 * A worker's spec set aside in archived/<batch>/ (archive-failed-workers, or a superseded copy), newest
 * batch first, with its batch; undefined when there is none. Only valid specs of that very worker count.
 */
export function findArchivedSpecWithBatch(paths: HomePaths, workerId: string): { readonly spec: WorkerSpec; readonly batch: string; readonly file: string } | undefined {
  assertValidId(workerId);
  let batches: string[];
  try {
    batches = readdirSync(paths.archivedDir()).sort().reverse();
  } catch {
    return undefined;
  }
  for (const batch of batches) {
    let text: string | undefined;
    const file = join(paths.archivedDir(), batch, `${workerId}.json`);
    try {
      text = readTextIfExists(file);
      if (text !== undefined) return { spec: parseSpec(text, file, workerId), batch, file };
    } catch {
      /* not a folder, or a bad file: not this worker's spec */
    }
  }
  return undefined;
}

/** The spec of findArchivedSpecWithBatch alone. */
export const findArchivedSpec = (paths: HomePaths, workerId: string): WorkerSpec | undefined => findArchivedSpecWithBatch(paths, workerId)?.spec;

/** Reads a valid spec or throws SPEC_NOT_FOUND / SPEC_INVALID. */
export function requireSpec(paths: HomePaths, folder: SpecFolder, workerId: string): WorkerSpec {
  assertValidId(workerId);
  const read = readSpec(paths, folder, workerId);
  if (read === undefined) throw new RelayError('SPEC_NOT_FOUND', `no spec for worker "${workerId}" in worker-specs/${folder}/`);
  if (!read.ok) throw read.error;
  return read.spec;
}

export interface SpecWriteOptions extends WriteOptions {
  /**
   * The write rewrites a spec the caller read (under the spec lock): it must still be there. An operator's
   * hand move (the runbook's `mv` into failed/, which takes no lock) between the read and the write would
   * otherwise be undone by the write re-creating the file: the spec in two folders, a force-failed worker
   * restarted. Refused with SPEC_NOT_FOUND instead, changing nothing.
   */
  readonly existing?: boolean;
}

/** `fsync: false` only where losing the write to a power cut loses nothing (see startLocked). */
export async function writeSpec(paths: HomePaths, folder: SpecFolder, spec: WorkerSpec, options: SpecWriteOptions = {}): Promise<void> {
  const checked = workerSpecSchema.safeParse(spec);
  if (!checked.success) throw new RelayError('SPEC_INVALID', `refusing to write an invalid spec for ${spec.worker_id}: ${formatZodIssues(checked.error)}`, { details: { worker_id: spec.worker_id } });
  const file = paths.specFile(folder, spec.worker_id);
  const { existing, ...writeOptions } = options;
  if (existing !== true) {
    await writeJsonAtomic(file, spec, writeOptions);
    return;
  }
  if (!replaceJsonIfPresentSync(file, spec, writeOptions)) {
    throw new RelayError('SPEC_NOT_FOUND', `${file} was moved away while being rewritten (by hand?): not written again`, { details: { file } });
  }
}


/** Runs fn under the worker's spec lock: every read-modify-write of a spec goes through here. */
export async function withSpecLock<T>(paths: HomePaths, workerId: string, fn: () => Promise<T> | T): Promise<T> {
  assertValidId(workerId);
  return withLock(paths, specLockName(workerId), fn);
}

/**
 * Moves a spec between folders with one rename, so it is never in two folders or none. The caller holds the
 * spec lock and has already written the spec's final content in `from`. A file of the same name already in
 * `to` (an earlier run of a reused id) is first set aside in archived/superseded-<time>/, never overwritten.
 */
export function moveSpecFile(paths: HomePaths, workerId: string, from: SpecFolder, to: SpecFolder): string {
  const source = paths.specFile(from, workerId);
  const target = paths.specFile(to, workerId);
  if (from === to) return source;
  // Checked first: setting the target aside and then failing the move would leave the spec in no folder.
  if (!existsSync(source)) throw new RelayError('SPEC_NOT_FOUND', `cannot move ${source} to ${to}/: it does not exist`, { details: { file: source } });
  if (existsSync(target)) {
    const aside = paths.archivedDir(`superseded-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`);
    try {
      mkdirSync(aside, { recursive: true });
      renameSync(target, join(aside, `${workerId}.json`));
    } catch (error) {
      throw new RelayError('IO_FAILED', `cannot set aside ${target} before moving ${source} there: ${describeError(error)}`, { cause: error });
    }
  }
  try {
    renameSync(source, target);
  } catch (error) {
    throw new RelayError('IO_FAILED', `cannot move ${source} to ${to}/: ${describeError(error)}`, { cause: error });
  }
  return target;
}

/** Writes the new content in place, then moves it: the folder and the status change together for every reader that re-reads. */
export async function finalizeSpec(paths: HomePaths, spec: WorkerSpec, from: SpecFolder, to: SpecFolder): Promise<string> {
  await writeSpec(paths, from, spec, { existing: true });
  return moveSpecFile(paths, spec.worker_id, from, to);
}
