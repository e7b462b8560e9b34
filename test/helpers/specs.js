// Worker specs written by hand, the way an operator or the daemon leaves them in a home.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { coord } from './home.js';

/**
 * A spec as the tests write it: the contract's fields, loose (tests also write specs the program must refuse).
 * @typedef {import('../../dist/contract/worker-spec.js').WorkerSpec} WorkerSpec
 * @typedef {import('../../dist/contract/worker-spec.js').SpecFolder} SpecFolder
 * @typedef {Omit<Partial<WorkerSpec>, 'execution'> & { execution?: Partial<WorkerSpec['execution']> } & Record<string, unknown>} SpecOverrides
 */

/**
 * A spec; pending, never run, of type `fixture`, unless overrides say otherwise (`execution` is merged field by field).
 * @param {string} workerId
 * @param {SpecOverrides} [overrides]
 * @returns {WorkerSpec}
 */
export function buildSpec(workerId, overrides = {}) {
  const { execution, ...rest } = overrides;
  return {
    worker_id: workerId,
    worker_type: 'fixture',
    task_id: null,
    status: 'pending',
    created_at: new Date().toISOString(),
    task: { description: 'test task' },
    execution: { started_at: null, completed_at: null, pid: null, restart_count: 0, ...execution },
    error: null,
    ...rest,
  };
}

/** A pending spec of the given type. @param {string} workerId @param {string} workerType @param {SpecOverrides} [extra] */
export const pendingSpec = (workerId, workerType, extra = {}) => buildSpec(workerId, { worker_type: workerType, task: { description: 'a task' }, ...extra });

/** A spec of a worker that has been running for ten minutes, as the operator tools find it. @param {string} workerId @param {SpecOverrides} [overrides] */
export function runningSpec(workerId, overrides = {}) {
  const { execution, ...rest } = overrides;
  return buildSpec(workerId, {
    task_id: `task-${workerId}`,
    status: 'running',
    created_at: new Date(Date.now() - 600_000).toISOString(),
    task: { description: `work of ${workerId}` },
    execution: { exit_code: null, signal: null, ...execution },
    ...rest,
  });
}

/** Where a spec of this id lives in folder. @param {string} home @param {string} folder @param {string} workerId */
export const specPath = (home, folder, workerId) => coord(home, 'worker-specs', folder, `${workerId}.json`);

/**
 * Writes spec as `<name>.json` (its worker id by default) into folder, creating the folder.
 * @param {string} home @param {string} folder @param {Record<string, unknown>} spec @param {string} [name]
 */
export function writeSpecFile(home, folder, spec, name = /** @type {string} */ (spec.worker_id)) {
  const file = specPath(home, folder, name);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(spec, null, 2)}\n`);
  return file;
}

/**
 * Writes a pending spec into active/.
 * @param {string} home @param {string} workerId
 * @param {{ workerType?: string, taskId?: string | null, description?: string, extra?: SpecOverrides }} [options]
 */
export function writePendingSpec(home, workerId, { workerType = 'fixture', taskId = null, description = 'test task', extra = {} } = {}) {
  return writeSpecFile(home, 'active', buildSpec(workerId, { worker_type: workerType, task_id: taskId, task: { description }, ...extra }));
}

/** The spec in folder, or undefined when there is none (or it does not parse). @param {string} home @param {string} folder @param {string} workerId @returns {any} */
export function readSpecFile(home, folder, workerId) {
  try {
    return JSON.parse(readFileSync(specPath(home, folder, workerId), 'utf8'));
  } catch {
    return undefined;
  }
}

/** A worker id no other test uses: prefix and six hex digits. @param {string} prefix */
export const uniqueId = (prefix) => `${prefix}-${randomBytes(3).toString('hex')}`;

/**
 * A read result (SpecRead, CheckinRead, ...) the test expects to have failed, typed as the failure; the
 * test asserts `ok` itself.
 * @template {{ ok: boolean }} R
 * @param {R | undefined} read
 */
export const failedRead = (read) => /** @type {Extract<R, { ok: false }>} */ (read);

/**
 * A read result the test expects to have succeeded, typed as the success; the test asserts `ok` itself.
 * @template {{ ok: boolean }} R
 * @param {R | undefined} read
 */
export const okRead = (read) => /** @type {Extract<R, { ok: true }>} */ (read);
