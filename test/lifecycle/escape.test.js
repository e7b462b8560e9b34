// A process that escapes its run's process group (setsid) still carries the run's token: when the run
// is stopped, or ends, it is stopped too, wherever its group.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startWorker, stopWorker } from '../../dist/worker/index.js';
import { fixtureCommand, waitFor } from '../helpers/home.js';
import { eventsOf } from '../helpers/daemon.js';
import { pidsWithEnv, procStat } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile, uniqueId, writePendingSpec } from '../helpers/specs.js';

const SCOPE = {
  types: {
    escaper: { command: fixtureCommand('escape-setsid.sh'), stop_grace_seconds: 1 },
    'escaper-exits': { command: fixtureCommand('escape-setsid.sh', 'exit'), stop_grace_seconds: 1, max_restarts: 0 },
    stubborn: { command: fixtureCommand('escape-setsid.sh', 'stubborn'), stop_grace_seconds: 2 },
  },
};

/** The processes of a run outside the group its shim leads. @param {string} runId @param {number} pgid */
const escapedFrom = (runId, pgid) => pidsWithEnv('COMMIT_RELAY_RUN_ID', runId).filter((pid) => procStat(pid)?.pgrp !== pgid);

/**
 * Starts a worker of `type` (no daemon) and waits for the process it leaves outside its group.
 * @param {import('../helpers/scope.js').Scope} t @param {string} prefix @param {string} type
 */
async function startEscaping(t, prefix, type) {
  const id = uniqueId(prefix);
  writePendingSpec(t.home, id, { workerType: type });
  const run = await startWorker(t.ctx(), id);
  t.tracker.group(run.pid);
  t.tracker.killHome(t.home);
  t.tracker.pid(await waitFor(() => escapedFrom(run.runId, run.pid)[0], { what: 'a process outside the group' }));
  return { id, run };
}

test('stop-worker stops what escaped the group, by its token', () => withHome(SCOPE, async (t) => {
  const { id, run } = await startEscaping(t, 'escape-stop', 'escaper');
  const result = await stopWorker(t.ctx(), id, 'test');
  assert.equal(result.outcome, 'terminated');
  await waitFor(() => pidsWithEnv('COMMIT_RELAY_RUN_ID', run.runId).length === 0, { what: 'nothing of the run left', timeoutMs: 5000 });
}));

test('the daemon, settling a run that ended, stops what escaped it', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('escape-end');
  writePendingSpec(t.home, id, { workerType: 'escaper-exits' });
  await t.startDaemon();
  await waitFor(() => readSpecFile(t.home, 'completed', id) !== undefined, { what: 'the worker to complete', timeoutMs: 15_000 });
  const runId = readSpecFile(t.home, 'completed', id).execution.run_id;
  await waitFor(() => pidsWithEnv('COMMIT_RELAY_RUN_ID', runId).length === 0, { what: 'the escaped process to be stopped', timeoutMs: 10_000 });
  await waitFor(() => eventsOf(t.home, id, 'worker_killed').some((e) => e.data.reason === 'escaped_run'), { what: 'the event' });
}));

test('an escaped process that ignores SIGTERM is stopped within the same grace as its group, not after it', () => withHome(SCOPE, async (t) => {
  const { id, run } = await startEscaping(t, 'escape-stubborn', 'stubborn');
  const started = Date.now();
  const result = await stopWorker(t.ctx(), id, 'test');
  const tookMs = Date.now() - started;
  assert.deepEqual(pidsWithEnv('COMMIT_RELAY_RUN_ID', run.runId), [], 'nothing of the run left when the stop returns');
  // The group's own split waits on the pipe the escapee holds open, so the group needs SIGKILL at the grace's end too.
  assert.equal(result.outcome, 'killed');
  // One grace of 2 s for both (one after the other took two graces and more: 4.4 s).
  assert.ok(tookMs < 3900, `the stop took ${tookMs} ms`);
}));
