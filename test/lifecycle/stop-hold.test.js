// Issue 10, items 5 and 11: a worker stopped by an operator stays stopped with the daemon running (never
// restarted, never a crash, restart_count untouched, shown as stopped) until start-worker or
// restart-worker; two fail-workers at once, or a stop and a fail, each say truthfully what happened, with
// one worker_failed and no restart by the daemon.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventsOf, pmState } from '../helpers/daemon.js';
import { FIXTURES, readJsonl, run, waitFor } from '../helpers/home.js';
import { failWorker, startWorker } from '../../dist/worker/index.js';
import { isLive } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile, uniqueId, writePendingSpec } from '../helpers/specs.js';

// A short backoff: a stop taken for a crash would be restarted within a pass or two.
const QUICK_RESTART = { stop_grace_seconds: 1, restart_backoff_seconds: 0.2, restart_backoff_max_seconds: 0.4, max_restarts: 3 };
const SCOPE = {
  types: {
    fixture: { command: ['sh', join(FIXTURES, 'forever.sh'), '{worker_id}'], ...QUICK_RESTART },
    // Ignores SIGTERM: a stop or fail of it takes its whole grace, so a second command surely meets the first at work.
    stubborn: { command: ['sh', join(FIXTURES, 'ignore-term.sh'), '{worker_id}'], ...QUICK_RESTART, stop_grace_seconds: 4 },
  },
  daemonConfig: { max_concurrent_workers: 1 },
};

const sh = (t, script, args) => run(t.home, args, { script });

/** The daemon started the worker: its pid. */
async function runningPid(t, id) {
  return waitFor(() => {
    const spec = readSpecFile(t.home, 'active', id);
    return spec?.status === 'running' && typeof spec.execution?.pid === 'number' ? t.tracker.group(spec.execution.pid) : false;
  }, { what: `the daemon to start ${id}` });
}

/** Waits until the daemon has made `n` more passes. */
async function passes(t, n) {
  const from = pmState(t.home).pm_daemon.loops_completed;
  await waitFor(() => pmState(t.home).pm_daemon.loops_completed >= from + n, { timeoutMs: 20_000, what: `${n} more daemon passes` });
}

/** What the daemon does with a crash: a restart (worker_restarted, not restart-worker's manual one), a worker_exited with its decision, a zombie verdict. */
const crashSigns = (t, id, after) =>
  eventsOf(t.home, id).slice(after).filter((e) => (e.event === 'worker_restarted' && e.data?.manual !== true) || (e.event === 'worker_exited' && e.data?.decision !== undefined) || e.event === 'zombie_detected');

test('stop-worker with the daemon running: it stays stopped across passes and backoffs, shown as stopped; start-worker and restart-worker resume it', { timeout: 90_000 }, () => withHome(SCOPE, async (t) => {
  const id = uniqueId('hold');
  const file = writePendingSpec(t.home, id);
  await t.startDaemon();
  const firstPid = await runningPid(t, id);
  const mark = eventsOf(t.home, id).length;

  const stop = await sh(t, 'stop-worker.sh', [id]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, new RegExp(`^${id}: stopped \\(pid ${firstPid}\\) by SIGTERM.*stays stopped until start-worker or restart-worker\\n$`));
  assert.equal(isLive(firstPid), false);

  // Several passes, well past the backoff: never restarted, never counted.
  await passes(t, 6);
  await waitFor(() => pmState(t.home).monitored_workers[id]?.stopped === true, { what: 'pm-state to show it stopped' });
  assert.deepEqual(crashSigns(t, id, mark), [], JSON.stringify(eventsOf(t.home, id)));
  const spec = readSpecFile(t.home, 'active', id);
  assert.equal(spec.status, 'running');
  assert.equal(spec.execution.pid, null);
  assert.equal(spec.execution.restart_count, 0);
  assert.equal(spec.execution.stopped.action, 'stop');
  assert.equal(spec.execution.stopped.by, 'stop-worker');
  const seen = pmState(t.home).monitored_workers[id];
  assert.equal(seen.health_state, 'exited');
  assert.equal(seen.restart_count, 0);
  assert.equal(seen.stopped_by, 'stop-worker');
  assert.equal(eventsOf(t.home, id, 'worker_stopped').length, 1);

  // The dashboard says so.
  const dashboard = await run(t.home, ['--json'], { script: 'dashboards/daemon-monitor.sh' });
  const row = JSON.parse(dashboard.stdout).workers.find((w) => w.worker_id === id);
  assert.equal(row.stopped, true);
  assert.match(row.stopped_reason, /stopped by stop-worker: manual stop/);
  const text = await run(t.home, ['--status'], { script: 'dashboards/daemon-monitor.sh' });
  assert.match(text.stdout, new RegExp(`${id} +fixture +stopped +exited `));
  assert.match(text.stdout, /1 stopped\)/);

  // It holds no slot: with a cap of 1, another worker is started.
  const other = uniqueId('other');
  writePendingSpec(t.home, other);
  await runningPid(t, other);

  // Stopping it again says so, changing nothing.
  const again = await sh(t, 'stop-worker.sh', [id]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`^${id}: already stopped \\(by stop-worker \\(pid \\d+\\) at [^)]+: manual stop\\); no process of it is running: nothing to do\\n$`));
  assert.equal(eventsOf(t.home, id, 'worker_stopped').length, 1);

  // start-worker --spec resumes it (even past the cap: an operator's start), restart_count unchanged.
  const started = await sh(t, 'start-worker.sh', ['--spec', file]);
  assert.equal(started.code, 0, started.stderr);
  const secondPid = t.tracker.group(Number(started.stdout.trim()));
  const resumed = readSpecFile(t.home, 'active', id);
  assert.equal(resumed.execution.pid, secondPid);
  assert.equal(resumed.execution.stopped, null);
  assert.equal(resumed.execution.restart_count, 0);
  await waitFor(() => pmState(t.home).monitored_workers[id]?.stopped === false && pmState(t.home).monitored_workers[id]?.pid === secondPid, { what: 'pm-state to show it running again' });

  // Stop, then restart-worker resumes it too.
  const stop2 = await sh(t, 'stop-worker.sh', [id, '--reason', 'maintenance']);
  assert.equal(stop2.code, 0, stop2.stderr);
  await passes(t, 3);
  const restarted = await sh(t, 'restart-worker.sh', [id]);
  assert.equal(restarted.code, 0, restarted.stderr);
  const thirdPid = t.tracker.group(Number(restarted.stdout.trim()));
  assert.ok(isLive(thirdPid));
  const last = readSpecFile(t.home, 'active', id);
  assert.deepEqual([last.status, last.execution.pid, last.execution.stopped, last.execution.restart_count], ['running', thirdPid, null, 0]);
  await passes(t, 2);
  assert.deepEqual(crashSigns(t, id, mark), [], JSON.stringify(eventsOf(t.home, id)));
}));

test('stop-worker on a pending worker in backoff: never started by the daemon until start-worker', { timeout: 60_000 }, () => withHome(SCOPE, async (t) => {
  const id = uniqueId('hold-pending');
  // Waiting for a restart far in the future would be started at that time; held, it never is.
  const file = writePendingSpec(t.home, id, { extra: { execution: { restart_count: 1, next_restart_at: new Date(Date.now() + 1500).toISOString(), pid: null, started_at: null, completed_at: null } } });
  const stop = await sh(t, 'stop-worker.sh', [id]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /stopped: it was pending, no process was running; it stays stopped/);
  await t.startDaemon();
  await passes(t, 6);
  const spec = readSpecFile(t.home, 'active', id);
  assert.deepEqual([spec.status, spec.execution.pid, spec.execution.restart_count], ['pending', null, 1]);
  assert.equal(pmState(t.home).monitored_workers[id].stopped, true);
  assert.deepEqual(eventsOf(t.home, id, 'worker_started'), []);
  const started = await sh(t, 'start-worker.sh', ['--spec', file]);
  assert.equal(started.code, 0, started.stderr);
  t.tracker.group(Number(started.stdout.trim()));
  assert.equal(readSpecFile(t.home, 'active', id).execution.restart_count, 1);
}));

test('two fail-worker.sh at once: one fails it, the other is told another command did; one worker_failed; the daemon never restarts it', { timeout: 60_000 }, () => withHome(SCOPE, async (t) => {
  const id = uniqueId('fail2');
  writePendingSpec(t.home, id, { workerType: 'stubborn' });
  await t.startDaemon();
  const pid = await runningPid(t, id);
  const mark = eventsOf(t.home, id).length;
  const first = sh(t, 'fail-worker.sh', [id, '--error', 'first']);
  // The second starts once the first has claimed the worker (and is waiting out the grace).
  await waitFor(() => readSpecFile(t.home, 'active', id)?.execution?.stopped?.action === 'fail', { what: 'the first fail-worker to claim the worker' });
  const second = sh(t, 'fail-worker.sh', [id, '--error', 'second']);
  const [winner, loser] = await Promise.all([first, second]);
  assert.equal(winner.code, 0, winner.stderr);
  assert.match(winner.stdout, new RegExp(`^${id}: failed; killed \\(pid ${pid}\\) with SIGKILL after the grace period\\n$`));
  assert.equal(loser.code, 3, loser.stderr);
  // Truthful either way: it waited for the first (the usual case), or started only once the first was done.
  assert.match(loser.stderr, /was failed by another command \(by fail-worker \(pid \d+\) at [^)]+: fail: first\) while this one waited: its spec is in worker-specs\/failed\/, nothing done|is not active: its spec is in worker-specs\/failed\//);
  assert.equal(loser.stderr.trim().split('\n').length, 1, 'one line');
  assert.equal(loser.stdout, '');
  assert.equal(isLive(pid), false);
  const failed = readSpecFile(t.home, 'failed', id);
  assert.deepEqual([failed.status, failed.error, failed.execution.restart_count], ['failed', 'first', 0]);
  await passes(t, 4);
  assert.equal(eventsOf(t.home, id, 'worker_failed').length, 1);
  assert.deepEqual(crashSigns(t, id, mark), [], JSON.stringify(eventsOf(t.home, id)));
}));

test('failWorker twice at once (in-process, no start-up delay): the second waits for the first and says so; one worker_failed', { timeout: 30_000 }, () => withHome(SCOPE, async (t) => {
  const id = uniqueId('fail2-inproc');
  writePendingSpec(t.home, id, { workerType: 'stubborn' });
  const run1 = await startWorker(t.ctx(), id);
  t.tracker.group(run1.pid);
  await waitFor(() => readFileSync(`/proc/${run1.pid}/task/${run1.pid}/children`, 'utf8').trim() !== '', { what: 'the worker process' });
  const results = await Promise.allSettled([failWorker(t.ctx(), id, 'first'), failWorker(t.ctx(), id, 'second')]);
  const done = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r) => r.status === 'rejected');
  assert.equal(done.length, 1);
  assert.equal(refused.length, 1);
  const reason = /** @type {PromiseRejectedResult} */ (refused[0]).reason;
  assert.equal(reason.code, 'WRONG_STATE');
  assert.match(reason.message, /was failed by another command \(by fail-worker .*\) while this one waited/);
  assert.equal(readJsonl(t.paths.activity).filter((e) => e.worker_id === id && e.event === 'worker_failed').length, 1);
  assert.equal(readSpecFile(t.home, 'failed', id).status, 'failed');
}));

test('stop-worker.sh and fail-worker.sh at once: it ends failed, once, and each says what happened', { timeout: 60_000 }, () => withHome(SCOPE, async (t) => {
  const id = uniqueId('stopfail');
  writePendingSpec(t.home, id, { workerType: 'stubborn' });
  await t.startDaemon();
  const pid = await runningPid(t, id);
  const mark = eventsOf(t.home, id).length;
  const [stop, fail] = await Promise.all([sh(t, 'stop-worker.sh', [id]), sh(t, 'fail-worker.sh', [id])]);
  assert.equal(fail.code, 0, fail.stderr);
  assert.match(fail.stdout, new RegExp(`^${id}: failed; `));
  assert.equal(stop.code, 0, stop.stderr);
  // When they overlap, the stop's words say the worker ended failed by the other command; when the stop
  // was done before fail-worker claimed the worker (a slow start under load), fail-worker found no process.
  if (!/failed by another command|being failed by another command/.test(stop.stdout)) {
    assert.match(stop.stdout, /stays stopped until start-worker or restart-worker/);
    assert.match(fail.stdout, /failed; no process was running/, `stop: ${stop.stdout} fail: ${fail.stdout}`);
  }
  assert.equal(isLive(pid), false);
  assert.equal(readSpecFile(t.home, 'failed', id).status, 'failed');
  await passes(t, 4);
  assert.equal(eventsOf(t.home, id, 'worker_failed').length, 1);
  assert.deepEqual(crashSigns(t, id, mark), [], JSON.stringify(eventsOf(t.home, id)));
}));

test('fail-worker.sh on a stopped worker fails it', { timeout: 60_000 }, () => withHome(SCOPE, async (t) => {
  const id = uniqueId('stopped-fail');
  writePendingSpec(t.home, id);
  await t.startDaemon();
  await runningPid(t, id);
  assert.equal((await sh(t, 'stop-worker.sh', [id])).code, 0);
  const fail = await sh(t, 'fail-worker.sh', [id, '--error', 'not needed']);
  assert.equal(fail.code, 0, fail.stderr);
  assert.match(fail.stdout, /failed; no process was running/);
  const spec = readSpecFile(t.home, 'failed', id);
  assert.deepEqual([spec.status, spec.error, spec.execution.restart_count], ['failed', 'not needed', 0]);
  assert.equal(eventsOf(t.home, id, 'worker_failed').length, 1);
}));
