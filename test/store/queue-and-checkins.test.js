// task-queue.json and check-ins: a file that does not parse is reported with its path and reason and left
// byte-identical; good ones read back as written.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { listCheckinIds, readCheckin, readCheckinIfChanged } from '../../dist/store/checkins.js';
import { buildTask, enqueueTask, newTaskId, readTaskQueue, updateTaskQueue } from '../../dist/store/tasks.js';
import { withHome } from '../helpers/scope.js';
import { failedRead } from '../helpers/specs.js';


const T = '2025-11-21T10:00:00.000Z';

test('tasks are queued in order with every contract field; unknown fields of the queue and its tasks are kept', () => withHome({}, async ({ paths }) => {
  writeFileSync(paths.taskQueue, JSON.stringify({ tasks: [{ task_id: 't-0', description: 'old', priority: 'low', worker_type: 'fixture', status: 'queued', created_at: T, metadata: {}, owner: 'kept' }], note: 'kept too' }));
  const a = await enqueueTask(paths, buildTask({ description: 'a', priority: 'critical', workerType: 'fixture', metadata: { k: 1 } }));
  const queue = JSON.parse(readFileSync(paths.taskQueue, 'utf8'));
  assert.equal(queue.note, 'kept too');
  assert.equal(queue.tasks[0].owner, 'kept');
  assert.deepEqual(queue.tasks[1], a);
  assert.deepEqual(Object.keys(a).sort(), ['assigned_at', 'completed_at', 'created_at', 'description', 'error', 'metadata', 'priority', 'status', 'task_id', 'worker_id', 'worker_type']);
}));

test('task ids are sortable by time and unique', () => {
  assert.match(newTaskId(Date.UTC(2025, 10, 21, 23, 5, 12)), /^task-20251121-230512-[0-9a-f]{6}$/);
  const ids = new Set(Array.from({ length: 1000 }, () => newTaskId(0)));
  assert.ok(ids.size > 990);
});

for (const [name, text, reason] of /** @type {Array<[string, string, RegExp]>} */ ([
  ['not JSON', '{"tasks": [', /: not valid JSON \(.+\)$/],
  ['tasks not a list', '{"tasks": {}}', /: tasks: Invalid input: expected array/],
])) {
  test(`a task-queue.json with ${name} is reported with its path and left byte-identical`, () => withHome({}, async ({ paths }) => {
    writeFileSync(paths.taskQueue, text);
    assert.throws(() => readTaskQueue(paths), (/** @type {import('../../dist/errors.js').RelayError} */ error) => error.code === 'FILE_INVALID' && error.message.startsWith(`${paths.taskQueue}: `) && reason.test(error.message));
    await assert.rejects(updateTaskQueue(paths, (q) => q.tasks.push(/** @type {(typeof q.tasks)[number]} */ ({}))), { code: 'FILE_INVALID' });
    assert.equal(readFileSync(paths.taskQueue, 'utf8'), text);
  }));
}

test('a check-in reads back; a broken one is reported with its path and left byte-identical', () => withHome({}, async ({ paths }) => {
  writeFileSync(paths.checkinFile('w-1'), JSON.stringify({ worker_id: 'w-1', timestamp: T, status: 'in_progress', progress_pct: 40, message: 'halfway' }));
  assert.deepEqual(readCheckin(paths, 'w-1'), { ok: true, checkin: { worker_id: 'w-1', timestamp: T, status: 'in_progress', progress_pct: 40, message: 'halfway' } });
  assert.equal(readCheckin(paths, 'w-none'), undefined);

  const broken = '{"worker_id": "w-2", "progress_pct": ';
  writeFileSync(paths.checkinFile('w-2'), broken);
  const read = failedRead(readCheckin(paths, 'w-2'));
  assert.equal(read.ok, false);
  assert.match(read.reason, new RegExp(`^${paths.checkinFile('w-2')}: not valid JSON`));
  assert.equal(readFileSync(paths.checkinFile('w-2'), 'utf8'), broken);

  writeFileSync(paths.checkinFile('w-3'), JSON.stringify({ worker_id: 'w-other', timestamp: T, status: 'starting', progress_pct: 0 }));
  assert.match(failedRead(readCheckin(paths, 'w-3')).reason, /worker_id "w-other" does not match the file name/);
  assert.deepEqual(listCheckinIds(paths).sort(), ['w-1', 'w-2', 'w-3']);
  assert.throws(() => readCheckin(paths, '../w'), { code: 'INVALID_ID' });
}));

test('readCheckinIfChanged reads a check-in only when its version changed; a link or a FIFO is refused, once per version, without blocking', () => withHome({}, async ({ paths, home }) => {
  const file = paths.checkinFile('w-1');
  const first = { worker_id: 'w-1', timestamp: T, status: 'in_progress', progress_pct: 40 };
  writeFileSync(file, JSON.stringify(first));
  const a = readCheckinIfChanged(paths, 'w-1', undefined);
  assert.deepEqual(a?.read, { ok: true, checkin: first });
  assert.deepEqual(readCheckinIfChanged(paths, 'w-1', a?.signature), { signature: a?.signature }, 'the same version: nothing read');
  // Replaced by a rename, as checkin.sh does: a new version.
  writeFileSync(`${file}.tmp`, JSON.stringify({ ...first, progress_pct: 50 }));
  renameSync(`${file}.tmp`, file);
  const b = readCheckinIfChanged(paths, 'w-1', a?.signature);
  assert.notEqual(b?.signature, a?.signature);
  assert.equal(b?.read?.ok === true && b.read.checkin.progress_pct, 50);
  assert.equal(readCheckinIfChanged(paths, 'w-none', undefined), undefined);
  // A link: refused with the link's own version, so it is reported once.
  const target = `${home}/target.json`;
  writeFileSync(target, JSON.stringify({ ...first, worker_id: 'w-2' }));
  symlinkSync(target, paths.checkinFile('w-2'));
  const link = readCheckinIfChanged(paths, 'w-2', undefined);
  assert.match(link?.read?.ok === false ? link.read.reason : '', /is a symbolic link, which is not followed/);
  assert.deepEqual(readCheckinIfChanged(paths, 'w-2', link?.signature), { signature: link?.signature });
  // A FIFO: refused at once (nobody writes to it).
  execFileSync('mkfifo', [paths.checkinFile('w-3')]);
  const fifo = readCheckinIfChanged(paths, 'w-3', undefined);
  assert.match(fifo?.read?.ok === false ? fifo.read.reason : '', /not a regular file/);
}));
