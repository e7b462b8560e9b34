// pm-state.json's text is made once per worker entry and reused while the entry's inputs are the same objects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadDaemonSettings, loadWorkerTypes } from '../../dist/config/load.js';
import { buildPmState, PmStateText } from '../../dist/daemon/state.js';
import { homePaths } from '../../dist/store/home.js';
import { makeHome, removeHome } from '../helpers/home.js';

/** @param {string} id @param {string} at */
function worker(id, at) {
  const spec = { worker_id: id, worker_type: 'w', task_id: `task-${id}`, status: 'running', created_at: at, task: { description: `do ${id}` }, execution: { pid: 100, started_at: at, restart_count: 0 } };
  const checkin = { worker_id: id, timestamp: at, status: 'in_progress', progress_pct: 10, message: 'say "hi"\n' };
  return { spec, view: { progress: 10, restartCount: 0 }, checkin, checkinCount: 1, lastOutput: null };
}

test('PmStateText renders the state (each worker one line), reuses unchanged entries, and tells a heartbeat from a change', (t) => {
  const home = makeHome({ w: { command: ['sleep', '1'] } });
  t.after(() => removeHome(home));
  const paths = homePaths(home);
  const at = '2026-11-30T12:00:00.000Z';
  const workers = [worker('a', at), worker('b', at), worker('c', at)];
  const health = new Map(workers.map((w) => [w.spec.worker_id, { state: 'healthy', reason: 'checking in' }]));
  const counters = { restarts: 0, completed: 0, failed: 0, zombies: 0, stops: 0, spawn_failures: 0, spec_invalid: 0, actions_held: 0 };
  const base = { self: { pid: 1, started_at: at, host: 'h' }, lastPassMs: 1.5, counters, tasksQueued: 0, invalidSpecs: 0, settings: loadDaemonSettings(paths, {}), workerTypes: loadWorkerTypes(paths) };
  /** @param {number} loops @param {any[]} list */
  const input = (loops, list) => /** @type {any} */ ({ ...base, lastLoopWall: Date.parse(at) + loops * 1000, loops, workers: list, health });
  const text = new PmStateText();

  /** @param {{text(): string}} rendered @param {number} loops @param {any[]} list */
  const same = (rendered, loops, list) => assert.deepEqual(JSON.parse(rendered.text()), JSON.parse(JSON.stringify(buildPmState(input(loops, list)))));
  const first = text.render(input(1, workers));
  same(first, 1, workers);
  assert.equal(first.changed, true);
  const lines = first.text().split('\n');
  for (const w of workers) assert.equal(lines.filter((l) => l.includes(`"worker_id":"${w.spec.worker_id}"`)).length, 1, 'a worker is one line');
  assert.ok(lines.includes('  "monitored_workers": {') && lines.includes('  "pm_daemon": {'), 'the rest is pretty-printed');

  const second = text.render(input(2, workers));
  assert.equal(second.changed, false, 'only last_loop and loops_completed moved');
  same(second, 2, workers);
  assert.notEqual(second.text(), first.text());

  const b = workers[1];
  const newer = { ...b, checkin: { ...b.checkin, timestamp: '2026-11-30T12:01:00.000Z', progress_pct: 50 }, checkinCount: 2, view: { ...b.view, progress: 50 } };
  const third = text.render(input(3, [workers[0], newer, workers[2]]));
  assert.equal(third.changed, true, 'a new check-in is a change');
  const parsed = JSON.parse(third.text());
  assert.equal(parsed.monitored_workers.b.progress_pct, 50);
  assert.equal(parsed.monitored_workers.b.checkin_count, 2);
  assert.equal(parsed.monitored_workers.a.checkin_message, 'say "hi"\n');

  const fourth = text.render(input(4, [workers[0], newer]));
  assert.equal(fourth.changed, true, 'a worker gone is a change');
  assert.deepEqual(Object.keys(JSON.parse(fourth.text()).monitored_workers), ['a', 'b']);
  same(fourth, 4, [workers[0], newer]);

  const empty = text.render(input(5, []));
  same(empty, 5, []);
  assert.match(empty.text(), /"monitored_workers": \{\}/, 'no worker: {}');
});
