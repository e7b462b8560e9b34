// A spec is not trusted: a pid and start time written into a running spec by hand never get a stranger
// signalled. The stranger lives, the edit is reported (process_not_ours), and the real run, found by its
// token, is the one stopped, by fail-worker.sh and by the daemon alike (never two runs of one worker).
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { readIdentity } from '../../dist/process/identity.js';
import { defined, fixtureCommand, readJsonl, run, waitFor } from '../helpers/home.js';
import { eventsOf } from '../helpers/daemon.js';
import { isAlive, pidsWithEnv, spawnUnrelated } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile, specPath, uniqueId, writePendingSpec } from '../helpers/specs.js';

const SCOPE = {
  types: {
    forever: { command: fixtureCommand('forever.sh'), stop_grace_seconds: 1 },
    // Given up on at its first end: a zombie verdict fails it.
    once: { command: fixtureCommand('forever.sh'), stop_grace_seconds: 1, max_restarts: 0 },
  },
};

/**
 * Rewrites the running spec so that it names `pid` with its true start time, as a hand edit can.
 * @param {string} home @param {string} id @param {number} pid
 * @returns {string} the run's token
 */
function pointSpecAt(home, id, pid) {
  const file = specPath(home, 'active', id);
  const spec = JSON.parse(readFileSync(file, 'utf8'));
  const identity = defined(readIdentity(pid), 'the stranger runs');
  spec.execution.pid = pid;
  spec.execution.process_start_ticks = identity.startTicks;
  // As an editor saves: a new file renamed over the old one.
  writeFileSync(`${file}.edit`, JSON.stringify(spec));
  renameSync(`${file}.edit`, file);
  return spec.execution.run_id;
}

/** An unrelated process in a session of its own, carrying no run token, once it runs. @param {import('../helpers/processes.js').ProcessTracker} tracker */
async function stranger(tracker) {
  const pid = defined(spawnUnrelated(tracker), 'the stranger pid');
  await waitFor(() => readIdentity(pid) !== undefined, { what: 'the stranger to start' });
  return pid;
}

test('fail-worker.sh on a spec edited to name a stranger: the stranger lives, the real run is stopped, the edit reported', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('stranger-fail');
  writePendingSpec(t.home, id, { workerType: 'forever' });
  const started = await run(t.home, ['--spec', specPath(t.home, 'active', id)], { script: 'start-worker.sh' });
  assert.equal(started.code, 0, started.stderr);
  const realPid = Number(started.stdout.trim());
  t.tracker.group(realPid);
  const other = await stranger(t.tracker);
  const runId = pointSpecAt(t.home, id, other);

  const failed = await run(t.home, [id], { script: 'fail-worker.sh' });
  assert.equal(failed.code, 0, failed.stderr);
  assert.equal(isAlive(other), true, 'the stranger was not signalled');
  await waitFor(() => !isAlive(realPid), { what: 'the real worker to be stopped', timeoutMs: 5000 });
  assert.deepEqual(pidsWithEnv('COMMIT_RELAY_RUN_ID', runId), [], 'nothing of the run is left');
  assert.equal(readSpecFile(t.home, 'failed', id).status, 'failed');
  const reported = readJsonl(t.paths.activity).filter((e) => e.event === 'process_not_ours' && e.worker_id === id);
  assert.equal(reported.length, 1, 'the edit is reported once');
  assert.equal(reported[0].data.pid, other);
}));

test('the daemon never signals a stranger a spec names; it stops the real run, and runs the worker once', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('stranger-daemon');
  writePendingSpec(t.home, id, { workerType: 'once' });
  const daemon = await t.startDaemon();
  await waitFor(() => readSpecFile(t.home, 'active', id)?.status === 'running', { what: 'the worker to start', timeoutMs: 15_000 });
  t.tracker.group(readSpecFile(t.home, 'active', id).execution.pid);
  const other = await stranger(t.tracker);
  const runId = pointSpecAt(t.home, id, other);
  // The recorded process is not the run's: the daemon stops the run that carries the token and
  // (max_restarts 0) gives up on the worker.
  await waitFor(() => readSpecFile(t.home, 'failed', id) !== undefined, { what: 'the worker to be failed', timeoutMs: 20_000 });
  await waitFor(() => pidsWithEnv('COMMIT_RELAY_RUN_ID', runId).length === 0, { what: 'the real run to be stopped', timeoutMs: 10_000 });
  assert.equal(isAlive(other), true, 'the stranger was not signalled');
  assert.ok(eventsOf(t.home, id, 'process_not_ours').length >= 1, 'the edit is reported');
  assert.equal(eventsOf(t.home, id, 'worker_started').length, 1, 'the worker ran once');
  daemon.child.kill('SIGINT');
  const exit = await daemon.exited;
  assert.equal(exit.code, 0, `the daemon exits on SIGINT: ${exit.stderr()}`);
}));
