// A spec rewritten under its lock never re-creates a file an operator moved away meanwhile (the runbook's
// `mv` into failed/ takes no lock): writeSpec with `existing` refuses, and the spec stays where the operator put it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { test } from 'node:test';
import { SPEC_FOLDERS } from '../../dist/contract/worker-spec.js';
import { finalizeSpec, readSpec, writeSpec } from '../../dist/store/specs.js';
import { withHome } from '../helpers/scope.js';
import { buildSpec, writeSpecFile } from '../helpers/specs.js';

const foldersHolding = (paths, id) => SPEC_FOLDERS.filter((f) => existsSync(paths.specFile(f, id)));

test('a rewrite of a spec moved to failed/ by hand after it was read is refused, and re-creates nothing', () => withHome({}, async ({ home, paths }) => {
  writeSpecFile(home, 'active', buildSpec('w-moved', { status: 'running' }));
  const read = readSpec(paths, 'active', 'w-moved');
  assert.ok(read?.ok);
  // The operator: jq ... > tmp && mv tmp spec; mv spec failed/
  renameSync(paths.specFile('active', 'w-moved'), paths.specFile('failed', 'w-moved'));
  const moved = readFileSync(paths.specFile('failed', 'w-moved'), 'utf8');
  await assert.rejects(writeSpec(paths, 'active', { ...read.spec, status: 'pending' }, { existing: true }), (/** @type {any} */ error) => error.code === 'SPEC_NOT_FOUND');
  assert.deepEqual(foldersHolding(paths, 'w-moved'), ['failed'], 'still in failed/ alone');
  assert.equal(readFileSync(paths.specFile('failed', 'w-moved'), 'utf8'), moved, 'the operator\'s file unchanged');
  assert.deepEqual(readdirSync(paths.specDir('active')), [], 'no temp file left in active/');
  // finalizeSpec (write in active/, then move) is a rewrite too.
  await assert.rejects(finalizeSpec(paths, { ...read.spec, status: 'completed' }, 'active', 'completed'), (/** @type {any} */ error) => error.code === 'SPEC_NOT_FOUND');
  assert.deepEqual(foldersHolding(paths, 'w-moved'), ['failed']);
}));

test('a rewrite of a spec that is still there replaces it; without `existing` a new spec is created as before', () => withHome({}, async ({ home, paths }) => {
  writeSpecFile(home, 'active', buildSpec('w-here'));
  const read = readSpec(paths, 'active', 'w-here');
  assert.ok(read?.ok);
  await writeSpec(paths, 'active', { ...read.spec, status: 'running', extra_field: 1 }, { existing: true });
  const after = JSON.parse(readFileSync(paths.specFile('active', 'w-here'), 'utf8'));
  assert.equal(after.status, 'running');
  assert.equal(after.extra_field, 1);
  assert.deepEqual(readdirSync(paths.specDir('active')), ['w-here.json']);
  await writeSpec(paths, 'active', buildSpec('w-new'));
  assert.deepEqual(foldersHolding(paths, 'w-new'), ['active']);
}));
