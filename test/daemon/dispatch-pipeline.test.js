// A pass's new workers start while the later specs are still being written: createSpecsForTasks hands each chunk's
// workers on once their specs and tasks are written, and InTurn starts them a few at a time, in order.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { InTurn } from '../../dist/daemon/in-turn.js';
import { createSpecsForTasks } from '../../dist/daemon/task-specs.js';
import { FreshLaunches } from '../../dist/worker/fresh-launches.js';
import { startWorker } from '../../dist/worker/index.js';
import { stopRun } from '../../dist/worker/stop.js';
import { isLive } from '../helpers/processes.js';
import { defined, FIXTURES, waitFor } from '../helpers/home.js';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { readJson } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';

test('InTurn: at most `limit` under way, started in the order pushed, done once all pushed are handled; a rejection does not stop the rest', async () => {
  /** @type {number[]} */
  const started = [];
  /** @type {number[]} */
  const finished = [];
  let running = 0;
  let most = 0;
  const lanes = new InTurn(3, async (/** @type {number} */ n) => {
    started.push(n);
    running += 1;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, n % 3));
    running -= 1;
    finished.push(n);
    if (n === 4) throw new Error('four');
  });
  await lanes.done();
  lanes.push([0, 1, 2, 3, 4]);
  lanes.push([5, 6]);
  await lanes.done();
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...finished].sort(), [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(most, 3);
  lanes.push([7]);
  await lanes.done();
  assert.deepEqual(started.at(-1), 7, 'lanes start again after they went idle');
});

test('createSpecsForTasks writes in growing chunks and hands each on once its specs and tasks are written, before the next chunk is written', () =>
  withHome({ types: { fixture: { command: ['true'] } } }, async ({ paths }) => {
    const tasks = Array.from({ length: 30 }, (_, i) => ({
      task_id: `task-p${String(i).padStart(2, '0')}`,
      description: `task ${i}`,
      priority: 'medium',
      worker_type: 'fixture',
      status: 'queued',
      created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      metadata: {},
      worker_id: null,
      assigned_at: null,
      completed_at: null,
      error: null,
    }));
    writeFileSync(paths.taskQueue, JSON.stringify({ tasks }, null, 2));
    const actions = tasks.map((t) => ({ kind: /** @type {const} */ ('dispatch'), taskId: t.task_id, workerId: `w-${t.task_id}`, workerType: 'fixture' }));
    /** @type {any[]} */
    const emitted = [];
    /** @type {string[][]} */
    const chunks = [];
    const byId = /** @type {Map<string, any>} */ (new Map(tasks.map((t) => [t.task_id, t])));
    const ready = await createSpecsForTasks(paths, actions, byId, Date.now(), (events) => emitted.push(...events), (ids) => {
      chunks.push([...ids]);
      const queue = readJson(paths.taskQueue);
      for (const id of ids) {
        assert.ok(existsSync(paths.specFile('active', id)), `${id}: its spec is written`);
        assert.equal(queue.tasks.find((/** @type {any} */ t) => t.worker_id === id)?.status, 'assigned', `${id}: its task is assigned`);
        assert.ok(emitted.some((e) => e.event === 'task_assigned' && e.worker_id === id), `${id}: task_assigned logged before it is handed on`);
      }
      const next = actions[chunks.flat().length];
      if (next !== undefined) assert.ok(!existsSync(paths.specFile('active', next.workerId)), `${next.workerId}: the next chunk is not written yet`);
    });
    assert.deepEqual(chunks.map((c) => c.length), [8, 16, 6]);
    assert.deepEqual(ready, actions.map((a) => a.workerId));
    assert.deepEqual(chunks.flat(), ready, 'in dispatch order');
  }));

test('a spec made from a task carries its first run\'s token; the daemon that made it starts it with that token and no launch record of its own; any other starter treats the token as a launch that may have run', () =>
  withHome({ types: { fixture: { command: ['sh', join(FIXTURES, 'forever.sh'), '{worker_id}'], stop_grace_seconds: 1 } } }, async (t) => {
    const tasks = ['task-f1', 'task-f2'].map((task_id, i) => ({ task_id, description: task_id, priority: 'medium', worker_type: 'fixture', status: 'queued', created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), metadata: {}, worker_id: null, assigned_at: null, completed_at: null, error: null }));
    writeFileSync(t.paths.taskQueue, JSON.stringify({ tasks }, null, 2));
    const fresh = new FreshLaunches();
    const actions = tasks.map((task) => ({ kind: /** @type {const} */ ('dispatch'), taskId: task.task_id, workerId: `w-${task.task_id}`, workerType: 'fixture' }));
    await createSpecsForTasks(t.paths, actions, /** @type {Map<string, any>} */ (new Map(tasks.map((task) => [task.task_id, task]))), Date.now(), () => undefined, () => undefined, fresh);
    const [first, second] = actions.map((a) => readJson(t.paths.specFile('active', a.workerId)));
    assert.equal(first.status, 'pending');
    assert.match(first.execution.launching_run_id, /^run-/, 'the token is on disk before anything runs');
    // The daemon that made it: its run carries that token.
    const mine = await startWorker(t.ctx({ freshLaunches: fresh }), first.worker_id);
    t.tracker.group(mine.pid);
    assert.equal(mine.runId, first.execution.launching_run_id);
    const running = readJson(t.paths.specFile('active', first.worker_id));
    assert.deepEqual([running.status, running.execution.run_id, running.execution.launching_run_id], ['running', mine.runId, null]);
    assert.equal(fresh.take(first.worker_id, mine.runId), false, 'a token is used once');
    // Another starter (start-worker, another daemon) does not know the token: a process carrying it may be a run that
    // started (its starter killed before recording it), so it is stopped first, and the new run gets a new token.
    const leftover = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', env: { ...process.env, COMMIT_RELAY_RUN_ID: second.execution.launching_run_id } });
    t.tracker.group(defined(leftover.pid, 'leftover pid'));
    const other = await startWorker(t.ctx(), second.worker_id);
    t.tracker.group(other.pid);
    assert.notEqual(other.runId, second.execution.launching_run_id);
    await waitFor(() => leftover.exitCode !== null || leftover.signalCode !== null, { what: 'the process carrying the unknown token stopped' });
    assert.equal(fresh.take(second.worker_id, second.execution.launching_run_id), true, 'still unused in the daemon that made it');
  }));

test('a stop of a run whose spec records a launch token the stopper did not issue also stops what carries it (a standby told to go by a daemon killed before its write); the daemon\'s own unused token is left alone', () =>
  withHome({ types: { fixture: { command: ['sh', join(FIXTURES, 'forever.sh'), '{worker_id}'], stop_grace_seconds: 1 } } }, async (t) => {
    const id = 'w-launch-stop';
    writeFileSync(t.paths.specFile('active', id), JSON.stringify({ worker_id: id, worker_type: 'fixture', task_id: null, status: 'pending', created_at: new Date().toISOString(), task: { description: 'd', priority: 'medium', metadata: {} }, execution: { started_at: null, completed_at: null, pid: null, restart_count: 0, exit_code: null, signal: null } }, null, 2));
    const started = await startWorker(t.ctx(), id);
    t.tracker.group(started.pid);
    const fresh = new FreshLaunches();
    const mine = fresh.issue(id);
    const carrying = (/** @type {string} */ token) => {
      const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', env: { ...process.env, COMMIT_RELAY_RUN_ID: token } });
      t.tracker.group(defined(child.pid, 'pid'));
      return child;
    };
    const record = (/** @type {string} */ token) => {
      const spec = readJson(t.paths.specFile('active', id));
      spec.execution.launching_run_id = token;
      writeFileSync(t.paths.specFile('active', id), JSON.stringify(spec, null, 2));
    };
    // The daemon's own token, unused: its standby carries it and is left alone.
    record(mine);
    const standby = carrying(mine);
    assert.equal(await stopRun(t.ctx({ freshLaunches: fresh }), readJson(t.paths.specFile('active', id))), 'terminated');
    assert.ok(isLive(defined(standby.pid, 'pid')), 'the daemon\'s own standby is not stopped');
    // Another's token: whatever carries it is stopped with the run.
    const again = await startWorker(t.ctx(), id, {});
    t.tracker.group(again.pid);
    record('run-went-unrecorded');
    const went = carrying('run-went-unrecorded');
    // The recorded run is gone (the daemon that recorded the launch died): the stop's outcome is the sweep's.
    process.kill(-again.pid, 'SIGKILL');
    await waitFor(() => !isLive(again.pid), { what: 'the recorded run gone' });
    assert.equal(await stopRun(t.ctx(), readJson(t.paths.specFile('active', id))), 'terminated');
    await waitFor(() => went.exitCode !== null || went.signalCode !== null, { what: 'the run that went unrecorded, stopped' });
    // The daemon's own stops leave it to the sweep after the pass (everywhere: false): nothing is stopped here.
    const later = carrying('run-went-unrecorded');
    assert.equal(await stopRun(t.ctx(), readJson(t.paths.specFile('active', id)), { everywhere: false }), 'gone');
    assert.ok(isLive(defined(later.pid, 'pid')));
  }));

test('FreshLaunches: one token per worker, the newest kept; past 10,000 the oldest is forgotten, not all', () => {
  const fresh = new FreshLaunches();
  const first = fresh.issue('w-0');
  const tokens = [first];
  for (let i = 1; i < 10_000; i += 1) tokens.push(fresh.issue(`w-${i}`));
  assert.equal(fresh.has('w-0', first), true);
  fresh.issue('w-10000');
  assert.equal(fresh.has('w-0', first), false, 'the oldest forgotten');
  assert.equal(fresh.has('w-1', tokens[1]), true, 'the others kept');
  const renewed = fresh.issue('w-1');
  assert.equal(fresh.has('w-1', tokens[1]), false);
  fresh.issue('w-10001');
  assert.equal(fresh.has('w-1', renewed), true, 'a renewed token is the newest');
  assert.equal(fresh.has('w-2', tokens[2]), false);
});
