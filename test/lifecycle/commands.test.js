import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { withHome } from '../helpers/scope.js';
import { FIXTURES, readJsonl, run } from '../helpers/home.js';
import { isLive, shimPidsOf } from '../helpers/processes.js';
import { readSpecFile, uniqueId, writePendingSpec } from '../helpers/specs.js';

const SCOPE = { types: { fixture: { command: ['sh', join(FIXTURES, 'forever.sh')], stop_grace_seconds: 1 } } };

const sh = (t, script, args) => run(t.home, args, { script });

test('start-worker.sh --spec prints the pid; a second start is refused; stop-worker.sh stops it', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('cmd-start');
  const file = writePendingSpec(t.home, id);
  const first = await sh(t, 'start-worker.sh', ['--spec', file]);
  assert.equal(first.code, 0, first.stderr);
  const pid = Number(first.stdout.trim());
  assert.match(first.stdout, /^\d+\n$/);
  t.tracker.group(pid);
  assert.equal(readSpecFile(t.home, 'active', id).execution.pid, pid);
  assert.ok(isLive(pid), 'the worker outlives start-worker');

  const second = await sh(t, 'start-worker.sh', ['--spec', file]);
  assert.equal(second.code, 3);
  assert.match(second.stderr, /already running \(pid \d+\)/);
  assert.deepEqual(shimPidsOf(id), [pid]);

  const stop = await sh(t, 'stop-worker.sh', [id]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /stopped \(pid \d+\) by SIGTERM/);
  assert.equal(isLive(pid), false);
}));

test('start-worker.sh refuses a spec file outside worker-specs/active/ and a missing one, changing nothing', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('cmd-outside');
  const file = writePendingSpec(t.home, id);
  const outside = join(t.home, `${id}.json`);
  copyFileSync(file, outside);
  const [result, missing, noFlag] = await Promise.all([
    sh(t, 'start-worker.sh', ['--spec', outside]),
    sh(t, 'start-worker.sh', ['--spec', join(t.paths.specDir('active'), 'nobody.json')]),
    sh(t, 'start-worker.sh', []),
  ]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--spec must be a <worker_id>\.json file in .*worker-specs\/active/);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /no such file/);
  assert.equal(noFlag.code, 2);
  assert.equal(readSpecFile(t.home, 'active', id).status, 'pending');
  assert.deepEqual(readJsonl(t.paths.activity), []);
}));

test('restart-worker.sh, fail-worker.sh --error, recover-task.sh --priority', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('cmd-cycle');
  writeFileSync(t.paths.taskQueue, JSON.stringify({ tasks: [{ task_id: 'task-c', description: 'cycle', priority: 'low', worker_type: 'fixture', status: 'assigned', created_at: new Date().toISOString(), metadata: {}, worker_id: id }] }));
  const file = writePendingSpec(t.home, id, { taskId: 'task-c', description: 'cycle' });
  const started = await sh(t, 'start-worker.sh', ['--spec', file]);
  const firstPid = t.tracker.group(Number(started.stdout.trim()));

  const restarted = await sh(t, 'restart-worker.sh', [id]);
  assert.equal(restarted.code, 0, restarted.stderr);
  const secondPid = t.tracker.group(Number(restarted.stdout.trim()));
  assert.notEqual(secondPid, firstPid);
  assert.equal(isLive(firstPid), false);
  assert.ok(isLive(secondPid));

  const failed = await sh(t, 'fail-worker.sh', [id, '--error', 'Operator gave up']);
  assert.equal(failed.code, 0, failed.stderr);
  assert.equal(isLive(secondPid), false);
  const spec = readSpecFile(t.home, 'failed', id);
  assert.deepEqual([spec.status, spec.error], ['failed', 'Operator gave up']);
  assert.ok(spec.execution.completed_at);
  assert.equal(readSpecFile(t.home, 'active', id), undefined);

  const recovered = await sh(t, 'recover-task.sh', [id, '--priority', 'critical']);
  assert.equal(recovered.code, 0, recovered.stderr);
  assert.match(recovered.stdout, /^task-[\w-]+\n$/);
  const tasks = JSON.parse(readFileSync(t.paths.taskQueue, 'utf8')).tasks;
  assert.equal(tasks[0].status, 'failed');
  const task = tasks.find((x) => x.task_id === recovered.stdout.trim());
  assert.deepEqual([task.description, task.worker_type, task.priority, task.metadata.retry_of], ['cycle', 'fixture', 'critical', 'task-c']);

  // Bad input: one line, non-zero, no change.
  const [badPriority, notActive, badId] = await Promise.all([
    sh(t, 'recover-task.sh', [id, '--priority', 'urgent']),
    sh(t, 'fail-worker.sh', [id]),
    sh(t, 'stop-worker.sh', ['../x']),
  ]);
  assert.equal(badPriority.code, 2);
  assert.match(badPriority.stderr, /unknown priority "urgent"/);
  assert.equal(notActive.code, 3);
  assert.match(notActive.stderr, /not active: its spec is in worker-specs\/failed/);
  assert.equal(badId.code, 2);
  assert.equal(JSON.parse(readFileSync(t.paths.taskQueue, 'utf8')).tasks.length, 2);
}));

test('every lifecycle script answers --help', () => withHome(SCOPE, async (t) => {
  const scripts = ['start-worker.sh', 'stop-worker.sh', 'restart-worker.sh', 'fail-worker.sh', 'recover-task.sh'];
  const results = await Promise.all(scripts.map((script) => sh(t, script, ['--help'])));
  results.forEach((result, i) => {
    assert.equal(result.code, 0, `${scripts[i]}: ${result.stderr}`);
    assert.match(result.stdout, /--help/);
  });
}));
