// A worker that restarted gets a standby: a shim started ahead of its next run, carrying that run's token but
// running nothing until the daemon has recorded the run and told it "go". Its restart then costs no spawn. A
// standby that no longer fits the launch (the type changed) is dropped and the restart is a cold one; a standby
// never outlives the daemon and never writes an exit record.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventsOf, pmState, stopDaemon } from '../helpers/daemon.js';
import { coord, fixtureCommand, QUICK, run, waitFor } from '../helpers/home.js';
import { envOf, isLive, pidsWithEnv, procStat } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile } from '../helpers/specs.js';

/**
 * The live standby shims of a worker, the run's own shim aside (a standby that became the run keeps the environment it
 * started with): its WORKER_ID, COMMIT_RELAY_STANDBY=1. @param {string} id @param {number} runPid
 */
const standbysOf = (id, runPid) => pidsWithEnv('WORKER_ID', id).filter((pid) => pid !== runPid && isLive(pid) && envOf(pid)?.COMMIT_RELAY_STANDBY === '1' && envOf(pid)?.COMMIT_RELAY_LOG_FILE !== undefined);

/** @param {string} file */
const envFile = (file) => (existsSync(file) ? Object.fromEntries(readFileSync(file, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])) : {});

test('a restarted worker gets a standby: the next restart runs in it (same pid, its token, the restart count sent with go); a type change drops it; the daemon\'s stop ends it with no exit record', () =>
  withHome({ types: { steady: { command: fixtureCommand('env-then-wait.sh', '{home}/env'), ...QUICK, max_restarts: 10 } } }, async (t) => {
    const created = await run(t.home, ['create-task', '--description', 'steady', '--worker-type', 'steady']);
    assert.equal(created.code, 0, created.stderr);
    const id = `worker-steady-${created.stdout.trim().slice(5)}`;
    const spec = () => readSpecFile(t.home, 'active', id);
    const env = join(t.home, 'env');
    const daemon = await t.startDaemon();
    /** The run after `runId`, once it runs and wrote its environment. @param {string} runId */
    const nextRun = async (runId) => {
      await waitFor(() => spec()?.status === 'running' && spec().execution.run_id !== runId && envFile(env).COMMIT_RELAY_RUN_ID === spec().execution.run_id, { what: `the run after ${runId}`, timeoutMs: 15_000 });
      t.tracker.group(spec().execution.pid);
      return spec().execution;
    };
    const first = await nextRun('');
    assert.deepEqual(standbysOf(id, first.pid), [], 'a worker that never restarted has no standby');

    // A crash (the run's whole group killed): a cold restart, after which a standby waits.
    process.kill(-first.pid, 'SIGKILL');
    const second = await nextRun(first.run_id);
    const [standby] = await waitFor(() => (standbysOf(id, second.pid).length === 1 ? standbysOf(id, second.pid) : undefined), { what: 'a standby', timeoutMs: 10_000 });
    t.tracker.group(standby);
    const standbyRun = envOf(standby)?.COMMIT_RELAY_RUN_ID;
    assert.ok(standbyRun !== undefined && standbyRun !== second.run_id, 'it carries a token of its own');
    // That token was recorded with the run before it (launching_run_id): the standby's run may go before its own spec
    // write, since a daemon killed in between leaves the token for the next start to stop what carries it.
    assert.equal(spec()?.execution.launching_run_id, standbyRun);
    assert.equal(envFile(env).COMMIT_RELAY_RUN_ID, second.run_id, 'it ran nothing');
    // Runbook A's `ps aux | grep "$WORKER_ID"` finds the run alone: the standby's argv does not name the worker.
    const argv = (/** @type {number} */ pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    assert.ok(!argv(standby).includes(id), argv(standby));
    assert.ok(argv(second.pid).includes(id));

    // The next crash (the worker alone killed: the shim records its end) runs in the standby: the same process, its
    // token, the worker's restart count, a run header.
    const worker = pidsWithEnv('COMMIT_RELAY_RUN_ID', second.run_id).find((pid) => procStat(pid)?.ppid === second.pid && envOf(pid)?.LOG === undefined);
    assert.ok(worker !== undefined, 'the worker process');
    process.kill(worker, 'SIGKILL');
    const third = await nextRun(second.run_id);
    assert.equal(third.pid, standby, 'the standby became the run');
    assert.ok(argv(third.pid).includes(id), 'its argv names the worker once it runs');
    assert.equal(third.run_id, standbyRun);
    assert.equal(envFile(env).COMMIT_RELAY_RESTART_COUNT, '2');
    assert.match(readFileSync(join(t.home, 'agents', 'logs', id, 'output.log'), 'utf8'), new RegExp(`=== \\S+ run ${third.run_id} of ${id} \\(restart 2\\)`));
    const started = eventsOf(t.home, id, 'worker_started').at(-1);
    assert.equal(started?.data.pid, third.pid);
    assert.equal(started?.data.run_id, third.run_id);

    // A new standby, then the type changes: it no longer fits, is dropped, and the restart is a cold one.
    const [next] = await waitFor(() => (standbysOf(id, third.pid).length === 1 ? standbysOf(id, third.pid) : undefined), { what: 'the next standby', timeoutMs: 10_000 });
    t.tracker.group(next);
    assert.equal(envOf(next)?.COMMIT_RELAY_RUN_ID, spec()?.execution.launching_run_id, 'its token is on disk before it could go');
    const typesFile = coord(t.home, 'config', 'worker-types.json');
    const version = () => pmState(t.home).configuration.worker_types_file?.version;
    const before = version();
    const types = JSON.parse(readFileSync(typesFile, 'utf8'));
    types.worker_types.steady.env = { CHANGED: '1' };
    writeFileSync(`${typesFile}.edit`, JSON.stringify(types));
    renameSync(`${typesFile}.edit`, typesFile);
    await waitFor(() => version() !== before, { what: 'the daemon to load the changed type' });
    process.kill(-third.pid, 'SIGKILL');
    const fourth = await nextRun(third.run_id);
    assert.notEqual(fourth.pid, next, 'a standby that no longer fits is not used');
    await waitFor(() => !isLive(next), { what: 'the unfit standby to end' });

    // The daemon's stop ends the standby it left (made after the cold restart), with no exit record.
    const [last] = await waitFor(() => (standbysOf(id, fourth.pid).length === 1 ? standbysOf(id, fourth.pid) : undefined), { what: 'a standby after the cold restart', timeoutMs: 10_000 });
    t.tracker.group(last);
    // Each crash logged once, warm or cold.
    // (A whole group killed leaves no exit record: a zombie_detected, the shim gone without a word.)
    assert.equal(eventsOf(t.home, id, 'zombie_detected').length, 2);
    assert.equal(eventsOf(t.home, id, 'worker_exited').length, 1);
    assert.equal(eventsOf(t.home, id, 'worker_restarted').length, 3);
    await stopDaemon(daemon);
    await waitFor(() => !isLive(last), { what: 'the standby to end with the daemon' });
    assert.equal(existsSync(t.paths.exitFile(id)), false, 'no exit record');
    assert.ok(isLive(fourth.pid), 'the worker itself runs on (detached)');
  }));

test('a standby run told to go whose spec was not written yet (the daemon killed in between) is stopped by the next start: never two runs', () =>
  withHome({ types: { steady: { command: fixtureCommand('env-then-wait.sh', '{home}/env'), ...QUICK, max_restarts: 10 } } }, async (t) => {
    const created = await run(t.home, ['create-task', '--description', 'steady', '--worker-type', 'steady']);
    assert.equal(created.code, 0, created.stderr);
    const id = `worker-steady-${created.stdout.trim().slice(5)}`;
    const specFile = coord(t.home, 'worker-specs', 'active', `${id}.json`);
    const daemon = await t.startDaemon();
    const first = await waitFor(() => (readSpecFile(t.home, 'active', id)?.status === 'running' ? readSpecFile(t.home, 'active', id).execution : undefined), { what: 'the first run' });
    t.tracker.group(first.pid);
    daemon.child.kill('SIGKILL');
    await waitFor(() => daemon.child.exitCode !== null || daemon.child.signalCode !== null, { what: 'the daemon to die' });
    // What such a daemon leaves: the spec records the ended run and the next run's token (launching_run_id); the run
    // that went with that token lives, recorded nowhere else.
    process.kill(-first.pid, 'SIGKILL');
    await waitFor(() => !isLive(first.pid), { what: 'the first run to end' });
    const token = 'run-told-to-go';
    const spec = JSON.parse(readFileSync(specFile, 'utf8'));
    spec.execution.launching_run_id = token;
    writeFileSync(`${specFile}.edit`, JSON.stringify(spec));
    renameSync(`${specFile}.edit`, specFile);
    const told = spawn('sh', ['-c', 'exec sleep 60'], { detached: true, stdio: 'ignore', env: { ...process.env, WORKER_ID: id, COMMIT_RELAY_HOME: t.home, COMMIT_RELAY_RUN_ID: token } });
    const toldPid = told.pid;
    assert.ok(toldPid !== undefined);
    t.tracker.group(toldPid);
    await t.startDaemon();
    const next = await waitFor(() => {
      const e = readSpecFile(t.home, 'active', id)?.execution;
      return e?.run_id !== first.run_id && e?.pid !== null && isLive(e?.pid ?? 0) ? e : undefined;
    }, { what: 'the next run', timeoutMs: 15_000 });
    t.tracker.group(next.pid);
    assert.notEqual(next.run_id, token);
    await waitFor(() => !isLive(toldPid), { what: 'the unrecorded run to be stopped' });
  }));

test('a run started in a standby that ends at once is recorded as it ended: told to go before its spec is written, its exit record is not taken for the last run\'s', () =>
  withHome({ types: { thrice: { command: ['sh', '-c', 'n=$(cat "$0" 2>/dev/null || echo 0); echo $((n + 1)) >"$0"; if [ "$n" -lt 2 ]; then sleep 1; exit 3; fi; exit 0', '{home}/count'], ...QUICK, max_restarts: 10 } } }, async (t) => {
    const created = await run(t.home, ['create-task', '--description', 'thrice', '--worker-type', 'thrice']);
    assert.equal(created.code, 0, created.stderr);
    const id = `worker-thrice-${created.stdout.trim().slice(5)}`;
    await t.startDaemon();
    // Runs 1 and 2 end with 3 after a second (the second restart runs in the standby made after the first); run 3,
    // in the standby made after the second, exits 0 at once.
    // (Its events are logged an instant after the spec is in completed/: waited for too.)
    await waitFor(() => readSpecFile(t.home, 'completed', id) !== undefined && eventsOf(t.home, id, 'worker_completed').length > 0, { what: 'the worker completed', timeoutMs: 20_000 });
    const spec = readSpecFile(t.home, 'completed', id);
    assert.equal(spec.execution.exit_code, 0);
    assert.equal(spec.execution.restart_count, 2);
    const started = eventsOf(t.home, id, 'worker_started');
    assert.equal(started.length, 3);
    assert.equal(started[2]?.data.run_id, spec.execution.run_id);
    assert.equal(eventsOf(t.home, id, 'worker_completed').length, 1);
    assert.equal(eventsOf(t.home, id, 'zombie_detected').length, 0, 'no end taken for a vanished run');
  }));

test('a worker whose next run waits in a standby is restarted at once, as the pass decides: each end logged once and in order, max_restarts kept, a backoff waited out', () =>
  withHome(
    {
      types: {
        // Each run lasts 0.6 s (a standby is made 0.2 s after a restart), then exits 3.
        bouncy: { command: ['sh', '-c', 'sleep 0.6; exit 3'], ...QUICK, max_restarts: 3 },
        // The same, with a backoff of 1.5 s before each restart.
        patient: { command: ['sh', '-c', 'echo "$COMMIT_RELAY_RUN_ID $(date +%s%N)" >>"$0"; sleep 0.6; exit 3', '{home}/patient-runs'], ...QUICK, restart_backoff_seconds: 1.5, restart_backoff_max_seconds: 1.5, max_restarts: 3 },
      },
    },
    async (t) => {
      const ids = [];
      for (const type of ['bouncy', 'patient']) {
        const created = await run(t.home, ['create-task', '--description', type, '--worker-type', type]);
        assert.equal(created.code, 0, created.stderr);
        ids.push(`worker-${type}-${created.stdout.trim().slice(5)}`);
      }
      const [bouncy, patient] = /** @type {[string, string]} */ (ids);
      await t.startDaemon();
      await waitFor(() => readSpecFile(t.home, 'failed', bouncy) !== undefined && eventsOf(t.home, bouncy, 'worker_failed').length > 0, { what: 'bouncy to fail', timeoutMs: 20_000 });
      const failed = readSpecFile(t.home, 'failed', bouncy);
      assert.equal(failed.execution.restart_count, 3);
      assert.match(failed.error, /gave up after 3 restarts/);
      // Four runs, three restarts (the last two in standbys), the fourth end failing it: each event once, in this order.
      const kinds = eventsOf(t.home, bouncy).map((e) => e.event).filter((e) => ['worker_started', 'worker_exited', 'worker_restarted', 'worker_failed'].includes(e));
      assert.deepEqual(kinds, ['worker_started', ...Array(3).fill(['worker_exited', 'worker_started', 'worker_restarted']).flat(), 'worker_exited', 'worker_failed']);
      const exited = eventsOf(t.home, bouncy, 'worker_exited');
      assert.deepEqual(exited.map((e) => e.data.decision), ['restart', 'restart', 'restart', 'fail']);
      assert.deepEqual(exited.map((e) => e.data.restart_count ?? null), [1, 2, 3, null]);
      const started = eventsOf(t.home, bouncy, 'worker_started');
      assert.deepEqual(started.map((e) => e.data.restart_count), [0, 1, 2, 3]);
      assert.equal(new Set(started.map((e) => e.data.run_id)).size, 4, 'four runs, four tokens');

      // The backoff is waited out whether or not a standby waits: each restart comes 1.5 s (jitter aside) after the end.
      await waitFor(() => readSpecFile(t.home, 'failed', patient) !== undefined, { what: 'patient to fail', timeoutMs: 30_000 });
      const decided = eventsOf(t.home, patient, 'worker_exited').filter((e) => e.data.decision === 'restart');
      assert.equal(decided.length, 3);
      for (const e of decided) assert.ok(Number(e.data.delay_ms) > 0, `a restart with a backoff waits (${JSON.stringify(e.data)})`);
      const runs = readFileSync(join(t.home, 'patient-runs'), 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[1]) / 1e6);
      assert.equal(runs.length, 4);
      for (let i = 1; i < runs.length; i += 1) {
        const gap = /** @type {number} */ (runs[i]) - /** @type {number} */ (runs[i - 1]);
        // A run of 0.6 s, then the backoff (0.75 s at the least with full jitter aside: see core/backoff.ts).
        assert.ok(gap >= 600 + Number(decided[i - 1]?.data.delay_ms) - 50, `run ${i + 1} started ${gap.toFixed(0)} ms after run ${i}, its delay ${decided[i - 1]?.data.delay_ms} ms`);
      }
    },
  ));
