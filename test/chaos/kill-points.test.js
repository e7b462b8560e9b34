// The exact states a SIGKILL leaves at the points daemon-kill.test.js found to matter, built by hand so that
// each runs in a second and fails the same way every time: a daemon started on such a home must finish
// what the killed one left half done.
//
//   node --test test/chaos/kill-points.test.js
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readQueue, readSpecAnywhere, workerProcesses } from './support.js';
import { coord, defined, FIXTURES, ROOT, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';

const quick = { stop_grace_seconds: 1, restart_backoff_seconds: 0, restart_backoff_max_seconds: 0 };
const TYPES = {
  ok: { command: ['sh', join(FIXTURES, 'exit-with.sh'), '0', '0.2'], ...quick },
  chatty: { command: ['sh', join(FIXTURES, 'checkin-loop.sh'), '0.2'], ...quick },
};

const at = '2026-01-01T00:00:00.000Z';
const task = (id, workerId, status) => ({ task_id: id, description: id, priority: 'medium', worker_type: workerId.split('-')[1], status, created_at: at, metadata: {}, worker_id: workerId, assigned_at: at, completed_at: null, error: null });
const spec = (id, taskId, status, execution) => ({
  worker_id: id,
  worker_type: id.split('-')[1],
  task_id: taskId,
  status,
  created_at: at,
  task: { description: taskId },
  execution: { started_at: null, completed_at: null, pid: null, restart_count: 0, exit_code: null, signal: null, ...execution },
  error: null,
});
const write = (file, value) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
const once = (home) => run(home, ['pm-daemon', '--once', '--quiet']);

test('killed after a completed spec moved to completed/, before its task was settled: the task is completed', () => withHome({ types: TYPES }, async ({ home }) => {
  write(coord(home, 'task-queue.json'), { tasks: [task('task-a', 'worker-ok-a', 'assigned')] });
  write(coord(home, 'worker-specs', 'completed', 'worker-ok-a.json'), spec('worker-ok-a', 'task-a', 'completed', { started_at: at, completed_at: at, exit_code: 0, run_id: 'run-a' }));
  assert.equal((await once(home)).code, 0);
  assert.equal((await once(home)).code, 0);
  assert.equal(readQueue(home).tasks[0].status, 'completed', 'the task of a worker in completed/ is completed, not left assigned for ever');
}));

test('killed between writing a spec\'s final content and moving it: the daemon moves it out of active/', () => withHome({ types: TYPES }, async ({ home }) => {
  write(coord(home, 'task-queue.json'), { tasks: [task('task-b', 'worker-ok-b', 'assigned')] });
  write(coord(home, 'worker-specs', 'active', 'worker-ok-b.json'), spec('worker-ok-b', 'task-b', 'completed', { started_at: at, completed_at: at, exit_code: 0, run_id: 'run-b' }));
  assert.equal((await once(home)).code, 0);
  assert.equal((await once(home)).code, 0);
  const found = defined(readSpecAnywhere(home, 'worker-ok-b'), 'the spec of worker-ok-b');
  assert.equal(found.place, 'completed', 'a completed spec does not stay in active/ (validate: "the daemon moves it on its next pass")');
  assert.equal(readQueue(home).tasks[0].status, 'completed');
  const validate = await run(home, ['validate']);
  assert.equal(validate.code, 0, validate.stdout);
}));

test('killed after a task\'s spec was written and started, before the task was marked assigned: the settled task names its worker', () => withHome({ types: TYPES }, async ({ home }) => {
  // The spec is written before the queue names it; a daemon killed in between leaves a task still queued
  // whose worker then runs (a pending spec is started as such) and ends, here with exit code 0.
  write(coord(home, 'task-queue.json'), { tasks: [{ ...task('task-d', 'worker-ok-d', 'queued'), worker_id: null, assigned_at: null }] });
  write(coord(home, 'worker-specs', 'active', 'worker-ok-d.json'), spec('worker-ok-d', 'task-d', 'running', { started_at: at, exit_code: 0, last_exit_at: at, run_id: 'run-d' }));
  assert.equal((await once(home)).code, 0);
  assert.equal((await once(home)).code, 0);
  assert.equal(defined(readSpecAnywhere(home, 'worker-ok-d'), 'the spec of worker-ok-d').place, 'completed');
  const settled = readQueue(home).tasks[0];
  assert.equal(settled.status, 'completed');
  assert.equal(settled.worker_id, 'worker-ok-d', 'a settled task names the worker that did it');
}));

test('killed after spawning a worker, before recording it in the spec: the next daemon does not run it a second time', () => withHome({ types: TYPES }, async ({ home, tracker }) => {
  // What spawn.ts had started when the daemon died: the shim, in its own group, with the run's token,
  // which start.ts recorded in the spec (launching_run_id) just before spawning.
  const id = 'worker-chatty-c';
  write(coord(home, 'task-queue.json'), { tasks: [task('task-c', id, 'assigned')] });
  write(coord(home, 'worker-specs', 'active', `${id}.json`), spec(id, 'task-c', 'pending', { launching_run_id: 'run-orphan' }));
  mkdirSync(coord(home, 'worker-exits'), { recursive: true });
  const orphan = spawn('/bin/sh', [join(ROOT, 'scripts', 'lib', 'worker-shim.sh'), id, 'run-orphan', coord(home, 'worker-exits', `${id}.json`), '--', 'sh', join(FIXTURES, 'checkin-loop.sh'), '0.2'], {
    cwd: home,
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, WORKER_ID: id, TASK_ID: 'task-c', COMMIT_RELAY_HOME: home, COMMIT_RELAY_RUN_ID: 'run-orphan', COMMIT_RELAY_RESTART_COUNT: '0' },
  });
  orphan.unref();
  tracker.group(orphan.pid);
  await waitFor(() => workerProcesses(home).some((p) => p.runId === 'run-orphan'), { what: 'the orphan run' });
  assert.equal((await once(home)).code, 0);
  const runs = new Set(workerProcesses(home).filter((p) => p.workerId === id).map((p) => p.runId));
  assert.ok(runs.size <= 1, `one run of ${id} at most, found ${runs.size}: ${[...runs].join(', ')}`);
}));
