// worker-types.json is reloaded on every change. A bad edit keeps the last good version in force and is
// shown where operators look (an event, the health check, pm-state.json, the dashboard) until it is fixed.
// A type removed while its workers run leaves them supervised under the limits they started with: never
// unsupervised, never restarted with a type that is gone.
import assert from 'node:assert/strict';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { coord, fixtureCommand, QUICK, run, waitFor } from '../helpers/home.js';
import { events, morePasses, pmState } from '../helpers/daemon.js';
import { pidsWithEnv } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile } from '../helpers/specs.js';

/** Replaces worker-types.json whole (temp file + rename), as an editor that saves atomically does. @param {string} home @param {string} text */
function writeTypes(home, text) {
  const file = coord(home, 'config', 'worker-types.json');
  writeFileSync(`${file}.edit`, text);
  renameSync(`${file}.edit`, file);
}

/** @param {string} home @param {Record<string, unknown>} types */
const writeTypesJson = (home, types) => writeTypes(home, JSON.stringify({ worker_types: types }, null, 2));

/** @param {string} home @param {string} name */
const eventsNamed = (home, name) => events(home).filter((e) => e.event === name);

/** @param {string} home @param {string} description @param {string} type */
async function queue(home, description, type) {
  const created = await run(home, ['create-task', '--description', description, '--worker-type', type]);
  assert.equal(created.code, 0, created.stderr);
  return created.stdout.trim();
}

/** The worker id of a task, once the daemon made its spec. @param {string} home @param {string} taskId */
const workerOf = (home, taskId) =>
  waitFor(() => Object.values(pmState(home).monitored_workers ?? {}).find((w) => w.task_id === taskId)?.worker_id, { what: `a worker for ${taskId}`, timeoutMs: 15_000 });

const STEADY = { command: fixtureCommand('checkin-loop.sh', '0.3'), checkin_timeout_seconds: 5, stall_timeout_seconds: 10, ...QUICK };

test('a bad edit: reported once, shown by the health check, pm-state.json and the dashboard; the last good version stays in force; a fix clears it', () =>
  withHome({ types: { steady: STEADY } }, async (t) => {
    const taskId = await queue(t.home, 'keeps checking in', 'steady');
    await t.startDaemon();
    const id = await workerOf(t.home, taskId);
    await waitFor(() => pmState(t.home).monitored_workers[id]?.health_state === 'healthy', { what: 'the worker to be healthy', timeoutMs: 15_000 });
    const spec = readSpecFile(t.home, 'active', id);
    t.tracker.group(spec.execution.pid);
    assert.equal(spec.execution.type_limits.stall_timeout_seconds, 10, 'the run records the limits it started with');
    assert.equal((await run(t.home, ['health-check'])).code, 0);

    // A half-written edit.
    writeTypes(t.home, '{ "worker_types": { "steady": { "command": ["sh"], ');
    const invalid = await waitFor(() => eventsNamed(t.home, 'config_invalid')[0], { what: 'config_invalid', timeoutMs: 15_000 });
    assert.match(String(invalid.data.reason), /worker-types\.json/);
    assert.equal(invalid.data.file, coord(t.home, 'config', 'worker-types.json'));
    await morePasses(t.home);
    const file = pmState(t.home).configuration.worker_types_file;
    assert.equal(file.status, 'invalid');
    assert.match(file.error, /worker-types\.json/);
    assert.ok(file.invalid_since, 'since when');
    assert.ok(file.version && file.loaded_at, 'the version in force is named');

    const check = await run(t.home, ['health-check']);
    assert.equal(check.code, 2, 'a bad configuration is for a person to fix: exit 2');
    assert.match(check.stdout, /^pm-daemon running \(pid \d+, up .*\) but worker-types\.json does not load since .*; the last good version \(loaded .*\) stays in force until it is fixed\n$/);
    const viaScript = await run(t.home, [], { script: 'health-check-pm-daemon.sh' });
    assert.equal(viaScript.code, 2);
    const restart = await run(t.home, ['health-check', '--restart']);
    assert.equal(restart.code, 2, '--restart does not start a second daemon beside this one');

    const dashboard = await run(t.home, ['daemon-monitor', '--status', '--width', '160']);
    assert.equal(dashboard.code, 0, dashboard.stderr);
    assert.match(dashboard.stdout, /running, config invalid/);
    assert.match(dashboard.stdout, /worker-types\.json INVALID since/);
    const json = JSON.parse((await run(t.home, ['daemon-monitor', '--status', '--json'])).stdout);
    assert.equal(json.daemon.state, 'config_invalid');
    assert.equal(json.daemon.worker_types_file.status, 'invalid');

    // The worker keeps running, supervised under the last good version.
    const seen = pmState(t.home).monitored_workers[id];
    await waitFor(() => pmState(t.home).monitored_workers[id].checkin_count > seen.checkin_count, { what: 'more check-ins counted', timeoutMs: 15_000 });
    assert.equal(pmState(t.home).monitored_workers[id].health_state, 'healthy');
    assert.equal(readSpecFile(t.home, 'active', id).execution.pid, spec.execution.pid, 'the same run');

    // The same bad content saved again is not a new report; another bad content is.
    writeTypes(t.home, '{ "worker_types": { "steady": { "command": ["sh"], ');
    await morePasses(t.home);
    assert.equal(eventsNamed(t.home, 'config_invalid').length, 1, 'one event per bad content');
    writeTypesJson(t.home, { steady: { ...STEADY, retries: 3 } });
    await waitFor(() => eventsNamed(t.home, 'config_invalid').length === 2, { what: 'the second bad content reported', timeoutMs: 15_000 });
    assert.match(String(eventsNamed(t.home, 'config_invalid')[1].data.reason), /unknown key "retries"/);
    await morePasses(t.home);
    assert.equal(pmState(t.home).configuration.worker_types_file.invalid_since, file.invalid_since, 'invalid since the first bad edit');

    // Fixed, with a new limit: it takes over and the trouble is cleared everywhere.
    writeTypesJson(t.home, { steady: { ...STEADY, stall_timeout_seconds: 11 } });
    const reloaded = await waitFor(() => eventsNamed(t.home, 'config_reloaded')[0], { what: 'config_reloaded', timeoutMs: 15_000 });
    assert.equal(reloaded.data.recovered, true);
    assert.deepEqual(reloaded.data.changed, ['steady']);
    await morePasses(t.home);
    const fixed = pmState(t.home).configuration;
    assert.equal(fixed.worker_types_file.status, 'ok');
    assert.equal(fixed.worker_types_file.error, null);
    assert.equal(fixed.worker_types.steady.stall_timeout_seconds, 11);
    assert.equal((await run(t.home, ['health-check'])).code, 0);
    assert.doesNotMatch((await run(t.home, ['daemon-monitor', '--status', '--width', '160'])).stdout, /INVALID/);
    assert.equal(eventsNamed(t.home, 'daemon_error').length, 0, 'a bad edit is no daemon error');
  }));

test('a type removed while its worker runs: one event; the worker stays supervised under its original limits, is stopped when it stalls and failed, not restarted; its queued tasks wait', () =>
  withHome(
    {
      types: {
        // Checks in while the file `keep-going` exists, then goes silent: it stalls after 3 s (not the default 20 min).
        quiet: { command: fixtureCommand('checkin-while-file.sh', '{home}/keep-going'), startup_grace_seconds: 60, checkin_timeout_seconds: 1, stall_timeout_seconds: 3, max_restarts: 2, ...QUICK },
        steady: STEADY,
      },
    },
    async (t) => {
      writeFileSync(join(t.home, 'keep-going'), '');
      const taskId = await queue(t.home, 'checks in, then falls silent', 'quiet');
      await t.startDaemon({ env: { WORKER_CONCURRENCY: '1' } });
      const id = await workerOf(t.home, taskId);
      await waitFor(() => readSpecFile(t.home, 'active', id)?.status === 'running', { what: 'the worker to run', timeoutMs: 15_000 });
      const run1 = readSpecFile(t.home, 'active', id).execution;
      t.tracker.group(run1.pid);
      const waiting = await queue(t.home, 'waits for a slot', 'quiet');

      writeTypesJson(t.home, { steady: STEADY });
      const removed = await waitFor(() => eventsNamed(t.home, 'worker_type_removed')[0], { what: 'worker_type_removed', timeoutMs: 15_000 });
      assert.equal(removed.data.worker_type, 'quiet');
      assert.deepEqual(removed.data.running_worker_ids, [id]);
      assert.deepEqual(removed.data.queued_task_ids, [waiting]);
      const [reloaded] = eventsNamed(t.home, 'config_reloaded');
      assert.deepEqual(reloaded?.data.removed, ['quiet']);
      // The event is logged during the pass; pm-state.json is written at its end.
      const file = await waitFor(() => (pmState(t.home).configuration.worker_types_file?.removed_types?.quiet ? pmState(t.home).configuration.worker_types_file : undefined), { what: 'pm-state.json to show the removed type' });
      assert.equal(file.status, 'ok');
      assert.deepEqual(file.removed_types.quiet?.worker_ids, [id]);
      assert.ok(pmState(t.home).monitored_workers[id], 'still monitored');
      assert.match((await run(t.home, ['daemon-monitor', '--status', '--width', '200'])).stdout, /worker types no longer in worker-types\.json.*quiet/);
      assert.equal((await run(t.home, ['health-check'])).code, 0, 'a removed type is the operator\'s own choice: healthy');

      // Supervised under the limits it started with (stalled after 3 s of silence, not the default 20 min): stopped, then failed.
      assert.ok(!events(t.home).some((e) => e.worker_id === id && e.event === 'worker_stalled'), 'not stalled before its type was removed');
      rmSync(join(t.home, 'keep-going'));
      await waitFor(() => readSpecFile(t.home, 'failed', id), { what: 'the worker to be failed', timeoutMs: 30_000 });
      const failed = readSpecFile(t.home, 'failed', id);
      assert.match(failed.error, /stopped: stalled; not restarted: worker type "quiet" is no longer in worker-types\.json/);
      const mine = events(t.home).filter((e) => e.worker_id === id);
      assert.ok(mine.some((e) => e.event === 'worker_stalled'), 'stalled under its original limits');
      assert.ok(mine.some((e) => e.event === 'worker_killed'), 'stopped');
      assert.ok(!mine.some((e) => e.event === 'worker_restarted'), 'never restarted');
      assert.equal(pidsWithEnv('COMMIT_RELAY_RUN_ID', run1.run_id).length, 0, 'nothing of it left running');

      // The waiting task was never started; once nothing names the type but it, the daemon still says so (one event only).
      await morePasses(t.home);
      const queueFile = JSON.parse((await run(t.home, ['daemon-monitor', '--status', '--json'])).stdout);
      assert.equal(queueFile.queue_depth, 1, 'the task of the removed type stays queued');
      assert.equal(eventsNamed(t.home, 'worker_type_removed').length, 1, 'said once');
      assert.deepEqual(pmState(t.home).configuration.worker_types_file.removed_types.quiet?.queued_task_ids, [waiting]);
    },
  ));

test('a type removed while no daemon runs: the next daemon adopts its running worker under the limits it started with, and its exit 0 completes it', () =>
  // Runs until the file `keep-going` is removed, then exits 0.
  withHome({ types: { sleeper: { command: ['sh', '-c', 'while [ -f "$1" ]; do sleep 0.2; done', 'sleeper', '{home}/keep-going'], ...QUICK }, steady: STEADY } }, async (t) => {
    writeFileSync(join(t.home, 'keep-going'), '');
    const taskId = await queue(t.home, 'finishes when told', 'sleeper');
    const first = await t.startDaemon();
    const id = await workerOf(t.home, taskId);
    await waitFor(() => readSpecFile(t.home, 'active', id)?.status === 'running', { what: 'the worker to run', timeoutMs: 15_000 });
    t.tracker.group(readSpecFile(t.home, 'active', id).execution.pid);
    first.child.kill('SIGTERM');
    await first.exited;

    writeTypesJson(t.home, { steady: STEADY });
    await t.startDaemon();
    const removed = await waitFor(() => eventsNamed(t.home, 'worker_type_removed')[0], { what: 'worker_type_removed', timeoutMs: 15_000 });
    assert.deepEqual(removed.data.running_worker_ids, [id]);
    assert.ok(pmState(t.home).monitored_workers[id], 'adopted, not set aside as invalid');
    assert.equal(eventsNamed(t.home, 'spec_invalid').length, 0);
    assert.equal(readSpecFile(t.home, 'active', id).execution.type_limits.stop_grace_seconds, 1, 'the limits it started with are in its spec');
    rmSync(join(t.home, 'keep-going'));
    await waitFor(() => readSpecFile(t.home, 'completed', id), { what: 'the worker to complete', timeoutMs: 20_000 });
    await morePasses(t.home);
    assert.equal(pmState(t.home).monitored_workers[id], undefined);
    assert.deepEqual(pmState(t.home).configuration.worker_types_file.removed_types, {}, 'nothing names the type any more');
  }));
