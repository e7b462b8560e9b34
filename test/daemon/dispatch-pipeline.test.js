// A pass's new workers start while the later specs are still being written: createSpecsForTasks hands each chunk's
// workers on once their specs and tasks are written, and InTurn starts them a few at a time, in order.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { InTurn } from '../../dist/daemon/in-turn.js';
import { createSpecsForTasks } from '../../dist/daemon/task-specs.js';
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
