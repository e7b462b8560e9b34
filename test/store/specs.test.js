// Specs in the store: one rename per move, an existing target set aside (never overwritten), unknown fields
// kept through a rewrite, broken files reported with path and reason and left byte-identical.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SPEC_FOLDERS } from '../../dist/contract/worker-spec.js';
import { finalizeSpec, findSpec, listSpecIds, moveSpecFile, readSpec, requireSpec, withSpecLock, writeSpec } from '../../dist/store/specs.js';
import { withHome } from '../helpers/scope.js';
import { failedRead } from '../helpers/specs.js';

const T = '2025-11-21T10:00:00.000Z';
/** @param {string} id @param {Record<string, unknown>} [over] @returns {import('../../dist/contract/worker-spec.js').WorkerSpec} */
const spec = (id, over = {}) => ({ worker_id: id, worker_type: 'implementation', task_id: 'task-1', status: 'pending', created_at: T, task: { description: 'd' }, ...over });
const json = (value) => `${JSON.stringify(value, null, 2)}\n`;


/** The folders (of active, completed, failed) that hold a file for this worker. */
const foldersHolding = ({ paths }, id) => SPEC_FOLDERS.filter((f) => existsSync(paths.specFile(f, id)));
/** Every file under archived/, as `batch/name`. */
const archived = ({ paths }) => readdirSync(paths.archivedDir()).flatMap((batch) => readdirSync(join(paths.archivedDir(), batch)).map((n) => `${batch}/${n}`));

test('moveSpecFile moves the file with its bytes; it is in exactly one folder before and after', () => withHome({}, async ({ paths }) => {
  const text = json(spec('w-1', { status: 'failed', error: 'boom' }));
  writeFileSync(paths.specFile('active', 'w-1'), text);
  assert.deepEqual(foldersHolding({ paths }, 'w-1'), ['active']);
  const target = moveSpecFile(paths, 'w-1', 'active', 'failed');
  assert.equal(target, paths.specFile('failed', 'w-1'));
  assert.deepEqual(foldersHolding({ paths }, 'w-1'), ['failed']);
  assert.equal(readFileSync(target, 'utf8'), text);
  assert.equal(moveSpecFile(paths, 'w-1', 'failed', 'failed'), target, 'a move to the same folder does nothing');
  assert.deepEqual(foldersHolding({ paths }, 'w-1'), ['failed']);
}));

test('moveSpecFile sets an existing target aside in archived/ instead of overwriting it', () => withHome({}, async ({ paths }) => {
  const older = json(spec('w-2', { status: 'completed', run: 'first' }));
  const newer = json(spec('w-2', { status: 'completed', run: 'second' }));
  writeFileSync(paths.specFile('completed', 'w-2'), older);
  writeFileSync(paths.specFile('active', 'w-2'), newer);
  moveSpecFile(paths, 'w-2', 'active', 'completed');
  assert.deepEqual(foldersHolding({ paths }, 'w-2'), ['completed']);
  assert.equal(readFileSync(paths.specFile('completed', 'w-2'), 'utf8'), newer);
  const aside = archived({ paths });
  assert.equal(aside.length, 1);
  assert.match(aside[0], /^superseded-[0-9TZ-]+-[0-9a-f]{6}\/w-2\.json$/);
  assert.equal(readFileSync(join(paths.archivedDir(), aside[0]), 'utf8'), older);
}));

test('moveSpecFile of a missing spec fails and leaves the target where it was', () => withHome({}, async ({ paths }) => {
  const kept = json(spec('w-3', { status: 'failed' }));
  writeFileSync(paths.specFile('failed', 'w-3'), kept);
  assert.throws(() => moveSpecFile(paths, 'w-3', 'active', 'failed'), { code: 'SPEC_NOT_FOUND' });
  assert.deepEqual(foldersHolding({ paths }, 'w-3'), ['failed']);
  assert.equal(readFileSync(paths.specFile('failed', 'w-3'), 'utf8'), kept);
  assert.deepEqual(archived({ paths }), []);
}));

test('finalizeSpec writes the final content, then moves it in one rename', () => withHome({}, async ({ paths }) => {
  writeFileSync(paths.specFile('active', 'w-4'), json(spec('w-4', { status: 'running' })));
  await withSpecLock(paths, 'w-4', () => finalizeSpec(paths, spec('w-4', { status: 'completed', execution: { exit_code: 0 } }), 'active', 'completed'));
  assert.deepEqual(foldersHolding({ paths }, 'w-4'), ['completed']);
  assert.equal(requireSpec(paths, 'completed', 'w-4').status, 'completed');
}));

test('a spec with unknown fields survives a read, change, write round trip', () => withHome({}, async ({ paths }) => {
  const original = spec('w-5', {
    owner: 'ops-team',
    labels: ['x', { nested: [1, 2, null] }],
    task: { description: 'd', context: { repo: 'commit-relay', files: ['a.ts'] } },
    execution: { started_at: null, pid: null, restart_count: 0, custom_probe: { ok: true } },
  });
  writeFileSync(paths.specFile('active', 'w-5'), json(original));
  const read = requireSpec(paths, 'active', 'w-5');
  await writeSpec(paths, 'active', { ...read, status: 'running', execution: { ...read.execution, pid: 4242, started_at: T } });
  const after = JSON.parse(readFileSync(paths.specFile('active', 'w-5'), 'utf8'));
  assert.deepEqual(after, { ...original, status: 'running', execution: { ...original.execution, pid: 4242, started_at: T } });
  // And unchanged, the bytes come back as they went in.
  await writeSpec(paths, 'active', requireSpec(paths, 'active', 'w-5'));
  await writeSpec(paths, 'active', requireSpec(paths, 'active', 'w-5'));
  assert.deepEqual(JSON.parse(readFileSync(paths.specFile('active', 'w-5'), 'utf8')), after);
}));

test('writeSpec refuses an invalid spec and leaves the file as it was', () => withHome({}, async ({ paths }) => {
  const text = json(spec('w-6'));
  writeFileSync(paths.specFile('active', 'w-6'), text);
  await assert.rejects(writeSpec(paths, 'active', spec('w-6', { status: 'exploded' })), { code: 'SPEC_INVALID', message: /refusing to write an invalid spec for w-6: status: / });
  assert.equal(readFileSync(paths.specFile('active', 'w-6'), 'utf8'), text);
}));

/** @type {Array<[string, string, RegExp]>} */
const broken = [
  ['not JSON', '{"worker_id": "w-bad", ', /: not valid JSON \(.+\)$/],
  ['an empty file', '', /: not valid JSON/],
  ['a bad status', json(spec('w-bad', { status: 'exploded' })), /: status: Invalid option/],
  ['a worker_id that is not its file name', json(spec('someone-else')), /: worker_id "someone-else" does not match the file name "w-bad\.json"/],
  ['a worker_id with a path', json(spec('../w-bad')), /: worker_id: must be a safe id/],
];
for (const [name, text, reason] of broken) {
  test(`a spec with ${name} is reported with its path and reason, and left byte-identical`, () => withHome({}, async ({ paths }) => {
    const file = paths.specFile('active', 'w-bad');
    writeFileSync(file, text);
    const read = failedRead(readSpec(paths, 'active', 'w-bad'));
    assert.equal(read.ok, false);
    assert.equal(read.file, file);
    assert.equal(read.error.code, 'SPEC_INVALID');
    assert.ok(read.error.message.startsWith(`${file}: `), read.error.message);
    assert.match(read.error.message, reason);
    assert.deepEqual(findSpec(paths, 'w-bad'), read);
    assert.throws(() => requireSpec(paths, 'active', 'w-bad'), { code: 'SPEC_INVALID' });
    assert.deepEqual(listSpecIds(paths, 'active'), ['w-bad']);
    assert.equal(readFileSync(file, 'utf8'), text);
  }));
}

test('a file in a spec folder with a name that is not an id is reported, not read as a path', () => withHome({}, async ({ paths }) => {
  const file = join(paths.specDir('active'), 'bad..name.json');
  writeFileSync(file, json(spec('bad..name')));
  const read = failedRead(readSpec(paths, 'active', 'bad..name'));
  assert.equal(read.ok, false);
  assert.equal(read.error.code, 'INVALID_ID');
  assert.equal(read.file, file);
}));

test('a spec that is a symbolic link is reported, not followed, and left in place', () => withHome({}, async ({ home, paths }) => {
  const outside = join(home, 'outside.json');
  writeFileSync(outside, json(spec('w-link')));
  const link = paths.specFile('active', 'w-link');
  symlinkSync(outside, link);
  const read = failedRead(readSpec(paths, 'active', 'w-link'));
  assert.equal(read.ok, false);
  assert.equal(read.error.code, 'FILE_INVALID');
  assert.equal(read.error.message, `${link}: is a symbolic link, which is not followed`);
  assert.equal(readlinkSync(link), outside);
}));

test('write-file-atomic temp files are not listed as specs', () => withHome({}, async ({ paths }) => {
  writeFileSync(paths.specFile('active', 'w-7'), json(spec('w-7')));
  writeFileSync(join(paths.specDir('active'), 'w-7.json.3192837465'), '{"half');
  assert.deepEqual(listSpecIds(paths, 'active'), ['w-7']);
}));

const badIds = ['../x', 'a/b', '', 'x'.repeat(129), 'a\0b', '..'];
for (const id of badIds) {
  test(`the store refuses worker id ${JSON.stringify(id).slice(0, 24)} at every entry point`, () => withHome({}, async ({ paths }) => {
    const invalid = { code: 'INVALID_ID' };
    assert.throws(() => paths.specFile('active', id), invalid);
    assert.throws(() => paths.checkinFile(id), invalid);
    assert.throws(() => paths.exitFile(id), invalid);
    assert.throws(() => paths.workerLogDir(id), invalid);
    assert.throws(() => findSpec(paths, id), invalid);
    assert.throws(() => requireSpec(paths, 'active', id), invalid);
    assert.throws(() => moveSpecFile(paths, id, 'active', 'failed'), invalid);
    await assert.rejects(withSpecLock(paths, id, () => 'ran'), invalid);
    await assert.rejects(writeSpec(paths, 'active', spec(id)), (/** @type {import('../../dist/errors.js').RelayError} */ error) => ['INVALID_ID', 'SPEC_INVALID'].includes(error.code));
    if (id === '' || /[/\0]/.test(id)) assert.throws(() => readSpec(paths, 'active', id), invalid);
  }));
}

test('a spec read again with the same text is the same spec, each read a copy of its own; changed text is checked again', () => withHome({}, async ({ paths }) => {
  const file = paths.specFile('active', 'w-again');
  writeFileSync(file, JSON.stringify(spec('w-again')));
  const first = requireSpec(paths, 'active', 'w-again');
  first.status = 'failed';
  first.task.description = 'changed by its reader';
  const second = requireSpec(paths, 'active', 'w-again');
  assert.notEqual(second, first);
  assert.deepEqual([second.status, second.task.description], [spec('w-again').status, spec('w-again').task.description], 'a reader\'s change is its own');
  // The same file with other text is validated again: a broken one is reported, never the last good one handed out.
  writeFileSync(file, JSON.stringify({ ...spec('w-again'), status: 'sideways' }));
  const broken = readSpec(paths, 'active', 'w-again');
  assert.equal(broken?.ok, false);
  writeFileSync(file, JSON.stringify({ ...spec('w-again'), worker_type: 'other' }));
  assert.equal(requireSpec(paths, 'active', 'w-again').worker_type, 'other');
}));
