import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stopProcess } from '../../dist/process/terminate.js';
import { readIdentity } from '../../dist/process/identity.js';
import { failWorker, recoverTask, restartWorker, startWorker, stopWorker } from '../../dist/worker/index.js';
import { defined, FIXTURES, readJsonl, waitFor } from '../helpers/home.js';
import { isLive, shimPidsOf, spawnUnrelated } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile, uniqueId, writePendingSpec } from '../helpers/specs.js';

const SCOPE = {
  types: {
    forever: { command: ['sh', join(FIXTURES, 'forever.sh')], stop_grace_seconds: 2 },
    stubborn: { command: ['sh', join(FIXTURES, 'ignore-term.sh')], stop_grace_seconds: 0.5 },
    forks: { command: ['sh', join(FIXTURES, 'fork-grandchild.sh'), '{home}/grandchild.pid'], stop_grace_seconds: 1 },
  },
};

async function started(t, id, type, extra) {
  writePendingSpec(t.home, id, { workerType: type, ...extra });
  const result = await startWorker(t.ctx(), id);
  t.tracker.group(result.pid);
  return result;
}

test('stop: SIGTERM to the group ends a well-behaved worker within the grace', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('sp-term');
  const run = await started(t, id, 'forever');
  const result = await stopWorker(t.ctx(), id, 'test');
  assert.equal(result.outcome, 'terminated');
  assert.equal(isLive(run.pid), false);
  const spec = readSpecFile(t.home, 'active', id);
  assert.equal(spec.execution.pid, null);
  assert.equal(spec.execution.signal, 'SIGTERM');
  assert.equal(spec.execution.stop_reason, 'test');
  const killed = readJsonl(t.paths.activity).filter((e) => e.event === 'worker_killed');
  assert.equal(killed.length, 1);
  assert.deepEqual([killed[0].data.reason, killed[0].data.outcome], ['test', 'terminated']);
}));

test('stop: a worker that ignores SIGTERM is killed after the grace', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('sp-stubborn');
  const run = await started(t, id, 'stubborn');
  // Let the fixture install its trap before the signal.
  await waitFor(() => readFileSync(`/proc/${run.pid}/task/${run.pid}/children`, 'utf8').trim() !== '', { what: 'the worker process' });
  await new Promise((r) => setTimeout(r, 100));
  const begun = Date.now();
  const result = await stopWorker(t.ctx(), id, 'test');
  const took = Date.now() - begun;
  assert.equal(result.outcome, 'killed');
  assert.ok(took >= 450, `waited the grace first (${took} ms)`);
  assert.ok(took < 4000, `then killed at once (${took} ms)`);
  assert.equal(isLive(run.pid), false);
  assert.equal(readSpecFile(t.home, 'active', id).execution.signal, 'SIGKILL');
}));

test('stop: a grandchild dies with the group', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('sp-forks');
  await started(t, id, 'forks');
  const file = join(t.home, 'grandchild.pid');
  await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').trim() !== '', { what: 'the grandchild pid' });
  const grandchild = Number(readFileSync(file, 'utf8').trim());
  t.tracker.pid(grandchild);
  assert.ok(isLive(grandchild));
  const result = await stopWorker(t.ctx(), id, 'test');
  assert.equal(result.outcome, 'terminated');
  await waitFor(() => !isLive(grandchild), { timeoutMs: 2000, what: 'the grandchild to be gone' });
}));

test('stop: when only the shim was killed, what is left of the run (worker, grandchild) is stopped by its run token', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('sp-remnant');
  const run = await started(t, id, 'forks');
  const file = join(t.home, 'grandchild.pid');
  await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').trim() !== '', { what: 'the grandchild pid' });
  const grandchild = t.tracker.pid(Number(readFileSync(file, 'utf8').trim()));
  process.kill(run.pid, 'SIGKILL');
  await waitFor(() => !isLive(run.pid), { what: 'the shim to die' });
  assert.ok(isLive(grandchild), 'the rest of the group lives on');
  const result = await stopWorker(t.ctx(), id, 'test');
  assert.equal(result.outcome, 'terminated');
  await waitFor(() => !isLive(grandchild), { timeoutMs: 2000, what: 'the grandchild to be gone' });
}));

test('stop: a pid now used by an unrelated process is not ours, and that process survives', () => withHome(SCOPE, async (t) => {
  const unrelated = spawnUnrelated(t.tracker);
  const identity = defined(readIdentity(unrelated), 'the identity of the unrelated process');
  const id = uniqueId('sp-reused');
  // The spec recorded this pid for an earlier process: same pid, another start time.
  writePendingSpec(t.home, id, {
    workerType: 'forever',
    extra: { status: 'running', execution: { pid: unrelated, process_start_ticks: identity.startTicks - 1, boot_id: identity.bootId, run_id: 'run-old', started_at: new Date().toISOString(), restart_count: 0 } },
  });
  const result = await stopWorker(t.ctx(), id, 'test');
  assert.equal(result.outcome, 'not_ours');
  assert.equal(await stopProcess({ pid: unrelated, startTicks: identity.startTicks + 5, bootId: identity.bootId, runId: 'run-old' }, 100), 'not_ours');
  assert.equal(await stopProcess({ pid: unrelated, startTicks: identity.startTicks, bootId: 'another-boot', runId: 'run-old' }, 100), 'not_ours');
  assert.ok(isLive(unrelated), 'the unrelated process is alive');
  // Starting the worker (its process is gone) runs a new one and leaves the unrelated process alone.
  const run = await startWorker(t.ctx(), id);
  t.tracker.group(run.pid);
  assert.notEqual(run.pid, unrelated);
  // Failing it stops only the new process.
  const failed = await failWorker(t.ctx(), id);
  assert.equal(failed.outcome, 'terminated');
  assert.ok(isLive(unrelated), 'still alive after fail-worker');
  assert.equal(readJsonl(t.paths.activity).filter((e) => e.event === 'worker_killed' && e.data.pid === unrelated).length, 0);
}));

test('restartWorker: stops the old run and starts a new one at once', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('sp-restart');
  const first = await started(t, id, 'forever');
  const second = await restartWorker(t.ctx(), id);
  t.tracker.group(second.pid);
  const events = readJsonl(t.paths.activity);
  const seen = JSON.stringify(events.map((e) => [e.event, e.data]));
  assert.notEqual(second.pid, first.pid);
  assert.equal(isLive(first.pid), false, `the first run is gone (${seen})`);
  assert.deepEqual(shimPidsOf(id), [second.pid], seen);
  const spec = readSpecFile(t.home, 'active', id);
  assert.equal(spec.status, 'running');
  assert.equal(spec.execution.pid, second.pid);
  assert.equal(spec.execution.run_id, second.runId);
  assert.deepEqual(events.map((e) => e.event), ['worker_started', 'worker_killed', 'worker_restarted', 'worker_started'], seen);
}));

test('failWorker then recoverTask: the runbook D and E in one step each', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('sp-fail');
  writeFileSync(t.paths.taskQueue, JSON.stringify({ tasks: [{ task_id: 'task-f', description: 'fix it', priority: 'low', worker_type: 'forever', status: 'assigned', created_at: new Date().toISOString(), metadata: {}, worker_id: id }] }));
  const run = await started(t, id, 'forever', { taskId: 'task-f', description: 'fix it' });
  const result = await failWorker(t.ctx(), id);
  assert.equal(result.outcome, 'terminated');
  assert.equal(isLive(run.pid), false);
  assert.equal(readSpecFile(t.home, 'active', id), undefined);
  const spec = readSpecFile(t.home, 'failed', id);
  assert.equal(spec.status, 'failed');
  assert.equal(spec.error, 'Manual termination');
  assert.ok(spec.execution.completed_at);
  assert.equal(spec.execution.pid, null);
  const queue = () => JSON.parse(readFileSync(t.paths.taskQueue, 'utf8')).tasks;
  assert.equal(queue()[0].status, 'failed');
  assert.ok(readJsonl(t.paths.activity).some((e) => e.event === 'worker_failed' && e.data.reason === 'manual'));

  const taskId = await recoverTask(t.ctx(), id, 'critical');
  const recovered = queue().find((task) => task.task_id === taskId);
  assert.equal(recovered.status, 'queued');
  assert.equal(recovered.description, 'fix it');
  assert.equal(recovered.worker_type, 'forever');
  assert.equal(recovered.priority, 'critical');
  assert.deepEqual(recovered.metadata, { retry_of: 'task-f', recovered_from: id });
  assert.ok(readJsonl(t.paths.activity).some((e) => e.event === 'task_created' && e.task_id === taskId));
  await assert.rejects(recoverTask(t.ctx(), uniqueId('sp-none')), { code: 'SPEC_NOT_FOUND' });
}));

test('stopProcess: a recorded process that is gone is "gone"', async () => {
  assert.equal(await stopProcess({ pid: 2 ** 22 + 12345, startTicks: 1, bootId: null, runId: null }, 100), 'gone');
});
