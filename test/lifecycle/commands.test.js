import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { readJsonl, run } from '../helpers/index.js';
import { FIXTURES, isLive, readSpecFile, setup, shimPidsOf, uniqueId, writePendingSpec } from './helpers.js';

let t;
beforeEach(() => {
  t = setup({ fixture: { command: ['sh', join(FIXTURES, 'forever.sh')], stop_grace_seconds: 1 } });
});
afterEach(() => t.cleanup());

const sh = (script, args) => run(t.home, args, { script });

test('start-worker.sh --spec prints the pid; a second start is refused; stop-worker.sh stops it', async () => {
  const id = uniqueId('cmd-start');
  const file = writePendingSpec(t.paths, id);
  const first = await sh('start-worker.sh', ['--spec', file]);
  assert.equal(first.code, 0, first.stderr);
  const pid = Number(first.stdout.trim());
  assert.match(first.stdout, /^\d+\n$/);
  t.tracker.group(pid);
  assert.equal(readSpecFile(t.paths, 'active', id).execution.pid, pid);
  assert.ok(isLive(pid), 'the worker outlives start-worker');

  const second = await sh('start-worker.sh', ['--spec', file]);
  assert.equal(second.code, 3);
  assert.match(second.stderr, /already running \(pid \d+\)/);
  assert.deepEqual(shimPidsOf(id), [pid]);

  const stop = await sh('stop-worker.sh', [id]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /stopped \(pid \d+\) by SIGTERM/);
  assert.equal(isLive(pid), false);
});

test('start-worker.sh refuses a spec file outside worker-specs/active/ and a missing one, changing nothing', async () => {
  const id = uniqueId('cmd-outside');
  const file = writePendingSpec(t.paths, id);
  const outside = join(t.home, `${id}.json`);
  copyFileSync(file, outside);
  const [result, missing, noFlag] = await Promise.all([
    sh('start-worker.sh', ['--spec', outside]),
    sh('start-worker.sh', ['--spec', join(t.paths.specDir('active'), 'nobody.json')]),
    sh('start-worker.sh', []),
  ]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--spec must be a <worker_id>\.json file in .*worker-specs\/active/);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /no such file/);
  assert.equal(noFlag.code, 2);
  assert.equal(readSpecFile(t.paths, 'active', id).status, 'pending');
  assert.deepEqual(readJsonl(t.paths.activity), []);
});

test('restart-worker.sh, fail-worker.sh --error, recover-task.sh --priority', async () => {
  const id = uniqueId('cmd-cycle');
  writeFileSync(t.paths.taskQueue, JSON.stringify({ tasks: [{ task_id: 'task-c', description: 'cycle', priority: 'low', worker_type: 'fixture', status: 'assigned', created_at: new Date().toISOString(), metadata: {}, worker_id: id }] }));
  const file = writePendingSpec(t.paths, id, { taskId: 'task-c', description: 'cycle' });
  const started = await sh('start-worker.sh', ['--spec', file]);
  const firstPid = t.tracker.group(Number(started.stdout.trim()));

  const restarted = await sh('restart-worker.sh', [id]);
  assert.equal(restarted.code, 0, restarted.stderr);
  const secondPid = t.tracker.group(Number(restarted.stdout.trim()));
  assert.notEqual(secondPid, firstPid);
  assert.equal(isLive(firstPid), false);
  assert.ok(isLive(secondPid));

  const failed = await sh('fail-worker.sh', [id, '--error', 'Operator gave up']);
  assert.equal(failed.code, 0, failed.stderr);
  assert.equal(isLive(secondPid), false);
  const spec = readSpecFile(t.paths, 'failed', id);
  assert.deepEqual([spec.status, spec.error], ['failed', 'Operator gave up']);
  assert.ok(spec.execution.completed_at);
  assert.equal(readSpecFile(t.paths, 'active', id), undefined);

  const recovered = await sh('recover-task.sh', [id, '--priority', 'critical']);
  assert.equal(recovered.code, 0, recovered.stderr);
  assert.match(recovered.stdout, /^task-[\w-]+\n$/);
  const tasks = JSON.parse(readFileSync(t.paths.taskQueue, 'utf8')).tasks;
  assert.equal(tasks[0].status, 'failed');
  const task = tasks.find((x) => x.task_id === recovered.stdout.trim());
  assert.deepEqual([task.description, task.worker_type, task.priority, task.metadata.retry_of], ['cycle', 'fixture', 'critical', 'task-c']);

  // Bad input: one line, non-zero, no change.
  const [badPriority, notActive, badId] = await Promise.all([
    sh('recover-task.sh', [id, '--priority', 'urgent']),
    sh('fail-worker.sh', [id]),
    sh('stop-worker.sh', ['../x']),
  ]);
  assert.equal(badPriority.code, 2);
  assert.match(badPriority.stderr, /unknown priority "urgent"/);
  assert.equal(notActive.code, 3);
  assert.match(notActive.stderr, /not active: its spec is in worker-specs\/failed/);
  assert.equal(badId.code, 2);
  assert.equal(JSON.parse(readFileSync(t.paths.taskQueue, 'utf8')).tasks.length, 2);
});

test('every lifecycle script answers --help', async () => {
  const scripts = ['start-worker.sh', 'stop-worker.sh', 'restart-worker.sh', 'fail-worker.sh', 'recover-task.sh'];
  const results = await Promise.all(scripts.map((script) => sh(script, ['--help'])));
  results.forEach((result, i) => {
    assert.equal(result.code, 0, `${scripts[i]}: ${result.stderr}`);
    assert.match(result.stdout, /--help/);
  });
});
