// Runbook A's manual kill failed (the worker ignores SIGTERM) and its spec was set to pending by hand:
// the daemon notices the live run of a pending spec, stops it (one event), then starts the new run.
// Never two runs of one worker, never an unsupervised process.
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { fixtureCommand, run, waitFor } from '../helpers/home.js';
import { eventsOf, pmState } from '../helpers/daemon.js';
import { pidsWithEnv } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile, specPath } from '../helpers/specs.js';

/**
 * One task of `type` under a running daemon: its worker's id and a reader of its active spec, once it runs.
 * @param {import('../helpers/scope.js').Scope} t @param {string} type
 */
async function oneRunningWorker(t, type) {
  const created = await run(t.home, ['create-task', '--description', type, '--worker-type', type]);
  assert.equal(created.code, 0, created.stderr);
  await t.startDaemon();
  /** @type {string} */
  const id = await waitFor(() => Object.keys(pmState(t.home).monitored_workers ?? {})[0], { what: 'the worker', timeoutMs: 15_000 });
  const spec = () => readSpecFile(t.home, 'active', id);
  await waitFor(() => spec()?.status === 'running' && spec().execution.pid !== null, { what: 'the worker to run', timeoutMs: 15_000 });
  return { id, spec };
}

const SCOPE = { types: { stubborn: { command: fixtureCommand('ignore-term.sh'), stop_grace_seconds: 0.5 } } };

test('a pending spec whose process still runs: that run is stopped, then one new run starts', () => withHome(SCOPE, async (t) => {
  const { id, spec } = await oneRunningWorker(t, 'stubborn');
  const first = spec().execution;
  t.tracker.group(first.pid);
  // The runbook's kill, which this worker shrugs off, then the hand edit to pending.
  process.kill(first.pid, 'SIGTERM');
  const file = specPath(t.home, 'active', id);
  writeFileSync(`${file}.edit`, JSON.stringify({ ...spec(), status: 'pending' }));
  renameSync(`${file}.edit`, file);

  await waitFor(() => pidsWithEnv('COMMIT_RELAY_RUN_ID', first.run_id).length === 0, { what: 'the old run to be stopped', timeoutMs: 15_000 });
  await waitFor(() => spec()?.status === 'running' && spec().execution.run_id !== first.run_id, { what: 'a new run', timeoutMs: 15_000 });
  const second = spec().execution;
  t.tracker.group(second.pid);
  const stops = eventsOf(t.home, id, 'worker_killed').filter((e) => e.data.reason === 'pending_with_live_process');
  assert.equal(stops.length, 1, 'one event says why');
  assert.equal(stops[0].data.pid, first.pid);
  // The spec is written, then its worker_started appended: wait for the event, then see that no third came.
  await waitFor(() => eventsOf(t.home, id, 'worker_started').length >= 2, { what: 'the new run\'s worker_started' });
  assert.equal(eventsOf(t.home, id, 'worker_started').length, 2, 'the first run and the new one, nothing more');
  assert.ok(pidsWithEnv('COMMIT_RELAY_RUN_ID', second.run_id).length >= 1, 'the new run runs');
}));

const CRASHY = { types: { chatty: { command: fixtureCommand('checkin-loop.sh', '0.2'), stop_grace_seconds: 0.5, restart_backoff_seconds: 0, restart_backoff_max_seconds: 0 } } };

test('a hand edit writes back a spec read before the daemon restarted the worker: the run it no longer records is stopped before the next', () => withHome(CRASHY, async (t) => {
  const { id, spec } = await oneRunningWorker(t, 'chatty');
  // The operator reads the spec (jq ...) ...
  const stale = spec();
  t.tracker.group(stale.execution.pid);
  // ... meanwhile the worker crashes and the daemon restarts it at once (a new run, recorded) ...
  process.kill(-stale.execution.pid, 'SIGKILL');
  await waitFor(() => spec()?.status === 'running' && spec().execution.run_id !== stale.execution.run_id && spec().execution.pid !== null, { what: 'the restart', timeoutMs: 15_000 });
  const second = spec().execution;
  t.tracker.group(second.pid);
  // ... and the operator's edit (status pending) is written from what was read before: the new run is recorded nowhere.
  const file = specPath(t.home, 'active', id);
  writeFileSync(`${file}.edit`, JSON.stringify({ ...stale, status: 'pending' }));
  renameSync(`${file}.edit`, file);

  await waitFor(() => pidsWithEnv('COMMIT_RELAY_RUN_ID', second.run_id).length === 0, { what: 'the unrecorded run to be stopped', timeoutMs: 30_000 });
  await waitFor(() => spec()?.status === 'running' && ![stale.execution.run_id, second.run_id].includes(spec().execution.run_id), { what: 'one new run', timeoutMs: 30_000 });
  const third = spec().execution;
  t.tracker.group(third.pid);
  const stops = eventsOf(t.home, id, 'worker_killed').filter((e) => e.data.reason === 'pending_with_live_process');
  assert.equal(stops.length, 1, 'one event says why');
  assert.equal(stops[0].data.run_id, second.run_id, 'the run the edit dropped is the one stopped');
  assert.ok(pidsWithEnv('COMMIT_RELAY_RUN_ID', third.run_id).length >= 1, 'the new run runs');
}));
