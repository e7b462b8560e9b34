// A spec is not trusted: a pid and start time written into a running spec by hand never get a stranger
// signalled. The stranger lives, the edit is reported (process_not_ours), and the real run, found by its
// token, is the one stopped, by fail-worker.sh and by the daemon alike (never two runs of one worker).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { readIdentity } from '../../dist/process/identity.js';
import { isAlive, pidsWithEnv, readJsonl, run, waitFor } from '../helpers/index.js';
import { eventsOf, startDaemon, stopDaemon } from '../helpers/daemon.js';
import { FIXTURES, readSpecFile, setup, specPath, uniqueId, writePendingSpec } from '../lifecycle/helpers.js';

let t;
beforeEach(() => {
  t = setup({
    forever: { command: ['sh', join(FIXTURES, 'forever.sh')], stop_grace_seconds: 1 },
    // Given up on at its first end: a zombie verdict fails it.
    once: { command: ['sh', join(FIXTURES, 'forever.sh')], stop_grace_seconds: 1, max_restarts: 0 },
  });
});
afterEach(() => t.cleanup());

/** An unrelated process in a session of its own (detached: setsid), carrying no run token. */
function stranger() {
  const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  child.unref();
  t.tracker.group(child.pid);
  return child.pid;
}

/** Rewrites the running spec so that it names `pid` with its true start time: what a hand edit can do. */
function pointSpecAt(id, pid) {
  const file = specPath(t.paths, 'active', id);
  const spec = JSON.parse(readFileSync(file, 'utf8'));
  const identity = readIdentity(pid);
  assert.ok(identity, 'the stranger runs');
  spec.execution.pid = pid;
  spec.execution.process_start_ticks = identity.startTicks;
  writeFileSync(`${file}.edit`, JSON.stringify(spec));
  // As an editor saves: a new file renamed over the old one.
  writeFileSync(file, readFileSync(`${file}.edit`));
  return spec.execution.run_id;
}

test('fail-worker.sh on a spec edited to name a stranger: the stranger lives, the real run is stopped, the edit reported', async () => {
  const id = uniqueId('stranger-fail');
  writePendingSpec(t.paths, id, { workerType: 'forever' });
  const started = await run(t.home, ['--spec', specPath(t.paths, 'active', id)], { script: 'start-worker.sh' });
  assert.equal(started.code, 0, started.stderr);
  const realPid = Number(started.stdout.trim());
  t.tracker.group(realPid);
  const other = stranger();
  await waitFor(() => readIdentity(other) !== undefined, { what: 'the stranger to start' });
  const runId = pointSpecAt(id, other);

  const failed = await run(t.home, [id], { script: 'fail-worker.sh' });
  assert.equal(failed.code, 0, failed.stderr);
  assert.equal(isAlive(other), true, 'the stranger was not signalled');
  await waitFor(() => !isAlive(realPid), { what: 'the real worker to be stopped', timeoutMs: 5000 });
  assert.deepEqual(pidsWithEnv('COMMIT_RELAY_RUN_ID', runId), [], 'nothing of the run is left');
  assert.equal(readSpecFile(t.paths, 'failed', id).status, 'failed');
  const reported = readJsonl(t.paths.activity).filter((e) => e.event === 'process_not_ours' && e.worker_id === id);
  assert.equal(reported.length, 1, 'the edit is reported once');
  assert.equal(reported[0].data.pid, other);
});

test('the daemon never signals a stranger a spec names; it stops the real run, and runs the worker once', async () => {
  const id = uniqueId('stranger-daemon');
  writePendingSpec(t.paths, id, { workerType: 'once' });
  const daemon = await startDaemon(t.home, { tracker: t.tracker });
  try {
    await waitFor(() => readSpecFile(t.paths, 'active', id)?.status === 'running', { what: 'the worker to start', timeoutMs: 15_000 });
    const realPid = readSpecFile(t.paths, 'active', id).execution.pid;
    t.tracker.group(realPid);
    const other = stranger();
    await waitFor(() => readIdentity(other) !== undefined, { what: 'the stranger to start' });
    const runId = pointSpecAt(id, other);
    // The daemon finds the recorded process is not the run's, stops the run that carries the token, and
    // (max_restarts 0) gives up on the worker.
    await waitFor(() => readSpecFile(t.paths, 'failed', id) !== undefined, { what: 'the worker to be failed', timeoutMs: 20_000 });
    await waitFor(() => pidsWithEnv('COMMIT_RELAY_RUN_ID', runId).length === 0, { what: 'the real run to be stopped', timeoutMs: 10_000 });
    assert.equal(isAlive(other), true, 'the stranger was not signalled');
    assert.ok(eventsOf(t.home, id, 'process_not_ours').length >= 1, 'the edit is reported');
    assert.equal(eventsOf(t.home, id, 'worker_started').length, 1, 'the worker ran once');
  } finally {
    const exit = await stopDaemon(daemon, 'SIGINT');
    assert.equal(exit.code, 0, `the daemon exits on SIGINT: ${exit.stderr()}`);
  }
});
