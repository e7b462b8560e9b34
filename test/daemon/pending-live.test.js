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

const SCOPE = { types: { stubborn: { command: fixtureCommand('ignore-term.sh'), stop_grace_seconds: 0.5 } } };

test('a pending spec whose process still runs: that run is stopped, then one new run starts', () => withHome(SCOPE, async (t) => {
  const created = await run(t.home, ['create-task', '--description', 'stubborn', '--worker-type', 'stubborn']);
  assert.equal(created.code, 0, created.stderr);
  await t.startDaemon();
  /** @type {string} */
  const id = await waitFor(() => Object.keys(pmState(t.home).monitored_workers ?? {})[0], { what: 'the worker', timeoutMs: 15_000 });
  const spec = () => readSpecFile(t.home, 'active', id);
  await waitFor(() => spec()?.status === 'running', { what: 'the worker to run', timeoutMs: 15_000 });
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
