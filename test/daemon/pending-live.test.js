// Runbook A's manual kill failed (the worker ignores SIGTERM) and its spec was set to pending by hand:
// the daemon notices the live run of a pending spec, stops it (one event), then starts the new run.
// Never two runs of one worker, never an unsupervised process.
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { FIXTURES, ProcessTracker, makeHome, pidsWithEnv, removeHome, run, waitFor } from '../helpers/index.js';
import { eventsOf, specPath, startDaemon, stopDaemon } from '../helpers/daemon.js';

let home;
let tracker;
beforeEach(() => {
  home = makeHome({ stubborn: { command: ['sh', join(FIXTURES, 'ignore-term.sh')], stop_grace_seconds: 0.5 } });
  tracker = new ProcessTracker();
});
afterEach(() => {
  tracker.killHome(home);
  tracker.cleanup();
  removeHome(home);
});

const readSpec = (id) => {
  try {
    return JSON.parse(readFileSync(specPath(home, 'active', id), 'utf8'));
  } catch {
    return undefined;
  }
};

test('a pending spec whose process still runs: that run is stopped, then one new run starts', async () => {
  const created = await run(home, ['create-task', '--description', 'stubborn', '--worker-type', 'stubborn']);
  assert.equal(created.code, 0, created.stderr);
  const daemon = await startDaemon(home, { tracker });
  try {
    const id = await waitFor(() => Object.keys(JSON.parse(readFileSync(join(home, 'coordination', 'pm-state.json'), 'utf8')).monitored_workers ?? {})[0], { what: 'the worker', timeoutMs: 15_000 });
    await waitFor(() => readSpec(id)?.status === 'running', { what: 'the worker to run', timeoutMs: 15_000 });
    const first = readSpec(id).execution;
    tracker.group(first.pid);
    // The runbook's kill, which this worker shrugs off, then the hand edit to pending.
    process.kill(first.pid, 'SIGTERM');
    const edited = { ...readSpec(id), status: 'pending' };
    writeFileSync(`${specPath(home, 'active', id)}.edit`, JSON.stringify(edited));
    renameSync(`${specPath(home, 'active', id)}.edit`, specPath(home, 'active', id));

    await waitFor(() => pidsWithEnv('COMMIT_RELAY_RUN_ID', first.run_id).length === 0, { what: 'the old run to be stopped', timeoutMs: 15_000 });
    await waitFor(() => readSpec(id)?.status === 'running' && readSpec(id).execution.run_id !== first.run_id, { what: 'a new run', timeoutMs: 15_000 });
    const second = readSpec(id).execution;
    tracker.group(second.pid);
    const stops = eventsOf(home, id, 'worker_killed').filter((e) => e.data.reason === 'pending_with_live_process');
    assert.equal(stops.length, 1, 'one event says why');
    assert.equal(stops[0].data.pid, first.pid);
    assert.equal(eventsOf(home, id, 'worker_started').length, 2, 'the first run and the new one, nothing more');
    assert.equal(pidsWithEnv('COMMIT_RELAY_RUN_ID', second.run_id).length >= 1, true, 'the new run runs');
  } finally {
    await stopDaemon(daemon);
  }
});
