import { assertValidId } from '../contract/ids.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import { RelayError } from '../errors.js';
import { findSpec, readSpec } from '../store/specs.js';
import type { LifecycleContext } from './context.js';

/** The active spec, or SPEC_NOT_FOUND / WRONG_STATE (settled in another folder) / SPEC_INVALID. */
export function requireActiveSpec(ctx: LifecycleContext, workerId: string): WorkerSpec {
  assertValidId(workerId);
  const read = readSpec(ctx.paths, 'active', workerId);
  if (read !== undefined) {
    if (!read.ok) throw read.error;
    return read.spec;
  }
  const elsewhere = findSpec(ctx.paths, workerId);
  if (elsewhere !== undefined) {
    throw new RelayError('WRONG_STATE', `worker "${workerId}" is not active: its spec is in worker-specs/${elsewhere.folder}/`, { details: { folder: elsewhere.folder } });
  }
  throw new RelayError('SPEC_NOT_FOUND', `no spec for worker "${workerId}" in worker-specs/active/`);
}
