import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeStatus, readExitRecord } from '../../dist/store/exits.js';
import { applyExitRecordIfAny, startWorker } from '../../dist/worker/index.js';
import { defined, FIXTURES, readJsonl, waitFor } from '../helpers/home.js';
import { childrenOf } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile, uniqueId, writePendingSpec } from '../helpers/specs.js';

const SCOPE = {
  types: {
    ok: { command: ['sh', join(FIXTURES, 'exit-with.sh'), '0'] },
    three: { command: ['sh', join(FIXTURES, 'exit-with.sh'), '3'] },
    forever: { command: ['sh', join(FIXTURES, 'forever.sh')], stop_grace_seconds: 1 },
  },
};

const task = (id, workerId) => ({ task_id: id, description: 'd', priority: 'medium', worker_type: 'ok', status: 'assigned', created_at: new Date().toISOString(), metadata: {}, worker_id: workerId });

/** Waits for the shim's exit record, then applies it as the daemon's pass would. */
async function waitAndApply(t, workerId) {
  await waitFor(() => existsSync(t.paths.exitFile(workerId)), { what: `the exit record of ${workerId}` });
  return applyExitRecordIfAny(t.ctx(), workerId);
}

test('exit 0: the shim records it, and applying it moves the spec to completed/ and settles the task', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('ex-ok');
  writePendingSpec(t.home, id, { workerType: 'ok', taskId: 'task-ok' });
  writeFileSync(t.paths.taskQueue, JSON.stringify({ tasks: [task('task-ok', id)] }));
  const started = await startWorker(t.ctx(), id);
  t.tracker.group(started.pid);
  const result = await waitAndApply(t, id);
  assert.equal(result.outcome, 'completed');
  assert.equal(defined(result.record, 'the exit record').run_id, started.runId);
  assert.equal(readSpecFile(t.home, 'active', id), undefined);
  const spec = readSpecFile(t.home, 'completed', id);
  assert.equal(spec.status, 'completed');
  assert.equal(spec.execution.exit_code, 0);
  assert.equal(spec.execution.pid, null);
  assert.ok(spec.execution.completed_at);
  assert.equal(existsSync(t.paths.exitFile(id)), false, 'the record is consumed');
  const events = readJsonl(t.paths.activity).map((e) => e.event);
  assert.ok(events.includes('worker_completed'));
  assert.ok(events.includes('task_completed'));
  const settled = JSON.parse(readFileSync(t.paths.taskQueue, 'utf8')).tasks[0];
  assert.equal(settled.status, 'completed');
  assert.ok(settled.completed_at);
  // Applying again finds nothing.
  assert.equal((await applyExitRecordIfAny(t.ctx(), id)).outcome, 'none');
}));

test('exit 3: recorded in the running spec for the restart policy', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('ex-three');
  writePendingSpec(t.home, id, { workerType: 'three' });
  const started = await startWorker(t.ctx(), id);
  t.tracker.group(started.pid);
  const result = await waitAndApply(t, id);
  assert.equal(result.outcome, 'exited');
  const spec = readSpecFile(t.home, 'active', id);
  assert.equal(spec.status, 'running');
  assert.equal(spec.execution.exit_code, 3);
  assert.equal(spec.execution.signal, null);
  assert.equal(spec.execution.pid, null);
  assert.ok(spec.execution.last_exit_at);
  const exited = readJsonl(t.paths.activity).filter((e) => e.event === 'worker_exited');
  assert.equal(exited.length, 1);
  assert.equal(exited[0].data.exit_code, 3);
  assert.equal((await applyExitRecordIfAny(t.ctx(), id)).outcome, 'none', 'recorded once');
}));

test('SIGKILL: a worker killed by a signal is recorded with the signal name', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('ex-kill');
  writePendingSpec(t.home, id, { workerType: 'forever' });
  const started = await startWorker(t.ctx(), id);
  t.tracker.group(started.pid);
  const [child] = await waitFor(() => {
    const c = childrenOf(started.pid);
    return c.length === 1 ? c : undefined;
  }, { what: 'the worker process under the shim' });
  process.kill(child, 'SIGKILL');
  const result = await waitAndApply(t, id);
  assert.equal(result.outcome, 'exited');
  assert.equal(defined(result.record, 'the exit record').status, 137);
  const spec = readSpecFile(t.home, 'active', id);
  assert.equal(spec.execution.signal, 'SIGKILL');
  assert.equal(spec.execution.exit_code, null);
  assert.equal(spec.execution.pid, null);
}));

test('an exit record of an earlier run is ignored; an invalid one is set aside and reported', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('ex-stale');
  writePendingSpec(t.home, id, { workerType: 'forever' });
  const started = await startWorker(t.ctx(), id);
  t.tracker.group(started.pid);
  writeFileSync(t.paths.exitFile(id), JSON.stringify({ worker_id: id, run_id: 'run-old', status: 0 }));
  assert.equal((await applyExitRecordIfAny(t.ctx(), id)).outcome, 'stale');
  assert.equal(readSpecFile(t.home, 'active', id).status, 'running');
  assert.equal(existsSync(t.paths.exitFile(id)), false);

  writeFileSync(t.paths.exitFile(id), '{"worker_id": oops');
  const reasons = [];
  assert.equal(readExitRecord(t.paths, id, (r) => reasons.push(r)), undefined);
  assert.match(reasons[0], /not valid JSON/);
  const result = await applyExitRecordIfAny(t.ctx(), id);
  assert.equal(result.outcome, 'invalid_record');
  assert.match(defined(result.reason, 'the reason'), /not valid JSON/);
  assert.equal(existsSync(t.paths.exitFile(id)), false, 'set aside, so it is reported once');
  assert.equal(readSpecFile(t.home, 'active', id).status, 'running');
}));

test('decodeStatus: exit codes and signals', () => {
  assert.deepEqual(decodeStatus(0), { exit_code: 0, signal: null });
  assert.deepEqual(decodeStatus(3), { exit_code: 3, signal: null });
  assert.deepEqual(decodeStatus(128), { exit_code: 128, signal: null });
  assert.deepEqual(decodeStatus(137), { exit_code: null, signal: 'SIGKILL' });
  assert.deepEqual(decodeStatus(143), { exit_code: null, signal: 'SIGTERM' });
  assert.deepEqual(decodeStatus(255), { exit_code: 255, signal: null });
});

test('start-worker on a running spec whose run already exited 0 completes it instead of running it again', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('ex-norerun');
  writePendingSpec(t.home, id, { workerType: 'ok' });
  const started = await startWorker(t.ctx(), id);
  t.tracker.group(started.pid);
  await waitFor(() => existsSync(t.paths.exitFile(id)), { what: 'the exit record' });
  await assert.rejects(startWorker(t.ctx(), id), { code: 'WRONG_STATE' });
  assert.equal(readSpecFile(t.home, 'completed', id).status, 'completed');
  assert.equal(readJsonl(t.paths.activity).filter((e) => e.event === 'worker_started').length, 1);
}));
