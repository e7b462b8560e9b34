// The runbook "Worker Failure" procedures A, D and E, run as written (test/fixtures/runbook-*.sh are
// verbatim copies of its code blocks; only the WORKER_ID value is replaced by a test worker's id).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyExitRecordIfAny, startWorker } from '../../dist/worker/index.js';
import { withHome } from '../helpers/scope.js';
import { FIXTURES, ROOT, run, waitFor, JQ_SKIP } from '../helpers/home.js';
import { childrenOf, isLive, shimPidsOf } from '../helpers/processes.js';
import { readSpecFile, uniqueId, writePendingSpec } from '../helpers/specs.js';

const skip = JQ_SKIP;

const SCOPE = {
  types: {
    // The worker id is only in the shim's argv: `ps aux | grep ID` finds exactly one process.
    plain: { command: ['sh', join(FIXTURES, 'forever.sh')], stop_grace_seconds: 1 },
    // The worker's own argv names it too: two processes match.
    named: { command: ['sh', join(FIXTURES, 'forever.sh'), '{worker_id}'], stop_grace_seconds: 1 },
  },
};

/** Runs a runbook procedure with bash from the project root, as an operator would. */
function procedure(t, name, workerId) {
  const text = readFileSync(join(FIXTURES, `runbook-${name}.sh`), 'utf8');
  assert.match(text, /^WORKER_ID="worker-implementation-001"$/m);
  // A file, not `bash -c TEXT`: the shell running it must not have the id in its own argv (pkill -f would kill it).
  const file = join(t.home, `procedure-${name}.sh`);
  writeFileSync(file, text.replace(/^WORKER_ID="worker-implementation-001"$/m, `WORKER_ID="${workerId}"`));
  return new Promise((resolve) => {
    execFile('bash', [file], { cwd: ROOT, env: { ...process.env, COMMIT_RELAY_HOME: t.home }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function startedWorker(t, type, extra) {
  const id = uniqueId(`rb-${type}`);
  writePendingSpec(t.home, id, { workerType: type, ...extra });
  const run = await startWorker(t.ctx(), id);
  t.tracker.group(run.pid);
  // The shim starts the log pipe's split before it forks the worker: the procedures below look for both.
  await waitFor(() => childrenOf(run.pid).length === 1, { what: 'the worker under the shim' });
  return { id, run };
}

test('A. Restart Stalled Worker: kill, reset to pending with jq, start-worker.sh', { skip }, () => withHome(SCOPE, async (t) => {
  const { id, run } = await startedWorker(t, 'plain');
  const result = await procedure(t, 'A', id);
  assert.equal(result.code, 0, result.stderr);
  const newPid = t.tracker.group(Number(result.stdout.trim()));
  assert.notEqual(newPid, run.pid);
  assert.equal(isLive(run.pid), false, 'the old process was killed');
  assert.deepEqual(shimPidsOf(id), [newPid], 'one worker runs: the new one');
  const spec = readSpecFile(t.home, 'active', id);
  assert.equal(spec.status, 'running');
  assert.equal(spec.execution.pid, newPid);
  assert.ok(spec.execution.started_at);
  assert.notEqual(spec.execution.run_id, run.runId);
}));

test('A, when the worker type puts the id in its own argv: the kill matches two pids and does nothing; start is refused, never a second copy', { skip }, () => withHome(SCOPE, async (t) => {
  const { id, run } = await startedWorker(t, 'named');
  const result = await procedure(t, 'A', id);
  assert.equal(result.code, 3);
  assert.match(result.stderr, /already running/);
  assert.deepEqual(shimPidsOf(id), [run.pid]);
}));

test('D. Force Fail Worker (pkill -f, jq, mv), then E. Recover Task (create-task.sh)', { skip }, () => withHome(SCOPE, async (t) => {
  const { id, run } = await startedWorker(t, 'named', { taskId: 'task-rb-1', description: 'Write the "report"' });
  const d = await procedure(t, 'D', id);
  assert.equal(d.code, 0, d.stderr);
  await waitFor(() => !isLive(run.pid), { timeoutMs: 3000, what: 'the worker to be killed' });
  assert.deepEqual(shimPidsOf(id), []);
  assert.equal(existsSync(join(t.paths.specDir('active'), `${id}.json`)), false);
  const spec = readSpecFile(t.home, 'failed', id);
  assert.equal(spec.status, 'failed');
  assert.equal(spec.error, 'Manual termination');
  assert.match(spec.execution.completed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  // The run's exit record (the shim saw SIGTERM) has nothing left to do: the worker was settled by hand.
  await waitFor(() => existsSync(t.paths.exitFile(id)), { timeoutMs: 3000, what: 'the exit record' });
  assert.equal((await applyExitRecordIfAny(t.ctx(), id)).outcome, 'not_active');
  assert.equal(existsSync(t.paths.exitFile(id)), false);

  const e = await procedure(t, 'E', id);
  assert.equal(e.code, 0, e.stderr);
  const taskId = e.stdout.trim();
  assert.match(taskId, /^task-[\w-]+$/);
  const task = JSON.parse(readFileSync(t.paths.taskQueue, 'utf8')).tasks.find((x) => x.task_id === taskId);
  assert.equal(task.description, 'Write the "report"');
  assert.equal(task.worker_type, 'named');
  assert.equal(task.priority, 'high');
  assert.deepEqual(task.metadata, { retry_of: 'task-rb-1' });
}));

test('B. Clean Up Zombie Worker by hand, then C. archive-failed-workers.sh: the next daemon settles the worker\'s task as failed', { skip }, () => withHome(SCOPE, async (t) => {
  const created = await run(t.home, ['create-task', '--description', 'zombie soon', '--worker-type', 'plain']);
  assert.equal(created.code, 0, created.stderr);
  const taskId = created.stdout.trim();
  // One pass dispatches the task and starts its worker; the daemon exits, the worker runs on.
  const first = await run(t.home, ['pm-daemon', '--once', '--quiet']);
  assert.equal(first.code, 0, first.stderr);
  const task = () => JSON.parse(readFileSync(t.paths.taskQueue, 'utf8')).tasks.find((/** @type {{ task_id: string }} */ x) => x.task_id === taskId);
  assert.equal(task().status, 'assigned');
  const id = task().worker_id;
  const pid = readSpecFile(t.home, 'active', id).execution.pid;
  t.tracker.group(pid);
  // A zombie: its process is gone.
  process.kill(-pid, 'SIGKILL');
  await waitFor(() => !isLive(pid), { what: 'the worker gone' });
  const b = await procedure(t, 'B', id);
  assert.equal(b.code, 0, b.stderr);
  const archived = await run(t.home, [], { script: 'archive-failed-workers.sh' });
  assert.equal(archived.code, 0, archived.stderr);
  assert.equal(existsSync(join(t.paths.specDir('failed'), `${id}.json`)), false, 'archived');
  assert.equal(task().status, 'assigned', 'nothing settled it yet');
  const next = await run(t.home, ['pm-daemon', '--once', '--quiet']);
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual([task().status, task().error], ['failed', 'Zombie worker - no process found'], 'settled from the archived spec');
}));
