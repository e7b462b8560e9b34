// The operator's pause button: pause-dispatch.sh / resume-dispatch.sh against a real daemon and real workers.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { events, morePasses, pmState, stopDaemon } from '../helpers/daemon.js';
import { fixtureCommand, QUICK, readJson, run, waitFor } from '../helpers/home.js';
import { isAlive } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile, uniqueId, writePendingSpec } from '../helpers/specs.js';

const SCOPE = {
  types: {
    forever: { command: fixtureCommand('forever.sh', '{worker_id}'), ...QUICK },
    // Runs a second, then crashes: the daemon restarts it (no backoff).
    crash: { command: fixtureCommand('exit-with.sh', '3', '1'), ...QUICK, max_restarts: 20 },
  },
};

const statusOf = (home, id) => readSpecFile(home, 'active', id)?.status;
const named = (home, type) => events(home).filter((e) => e.event === type);

test('a pause holds new starts, dispatch and restarts while running workers go on; resume starts them', () => withHome(SCOPE, async (t) => {
  await t.startDaemon();
  const running = uniqueId('p-run');
  const crashing = uniqueId('p-crash');
  writePendingSpec(t.home, running, { workerType: 'forever' });
  writePendingSpec(t.home, crashing, { workerType: 'crash' });
  await waitFor(() => statusOf(t.home, running) === 'running' && statusOf(t.home, crashing) === 'running', { what: 'both workers running', timeoutMs: 20_000 });
  const pid = readSpecFile(t.home, 'active', running).execution.pid;

  const paused = await run(t.home, ['--reason', 'maintenance'], { script: 'pause-dispatch.sh' });
  assert.equal(paused.code, 0, paused.stderr);
  assert.match(paused.stdout, /dispatch paused \(all\)/);
  const file = readJson(t.paths.dispatchPauses);
  assert.deepEqual(file.pauses.map((p) => [p.type, p.reason, p.until, p.by]), [[null, 'maintenance', null, 'operator']]);
  const pausedEvent = named(t.home, 'dispatch_paused').at(-1);
  assert.deepEqual([pausedEvent.data.scope, pausedEvent.data.reason, pausedEvent.data.by], ['all', 'maintenance', 'operator']);

  const fresh = uniqueId('p-new');
  writePendingSpec(t.home, fresh, { workerType: 'forever' });
  const created = await run(t.home, ['--description', 'held task', '--worker-type', 'forever'], { script: 'create-task.sh' });
  assert.equal(created.code, 0, created.stderr);
  const taskId = created.stdout.trim();
  // The crashing worker ends meanwhile: its restart waits in pending.
  await waitFor(() => statusOf(t.home, crashing) === 'pending', { what: 'the crashed worker to wait in pending', timeoutMs: 20_000 });
  await morePasses(t.home, 3);
  assert.equal(statusOf(t.home, fresh), 'pending', 'no new worker starts');
  assert.equal(statusOf(t.home, crashing), 'pending', 'no restart starts');
  const queue = readJson(t.paths.taskQueue).tasks;
  assert.equal(queue.find((q) => q.task_id === taskId).status, 'queued', 'no task is dispatched');
  assert.equal(statusOf(t.home, running), 'running');
  assert.ok(isAlive(pid), 'the running worker goes on');
  const state = pmState(t.home);
  assert.equal(state.dispatch.paused, true);
  assert.deepEqual(state.dispatch.pauses.map((p) => [p.scope, p.by, p.reason]), [['all', 'operator', 'maintenance']]);
  const health = await run(t.home, [], { script: 'health-check-pm-daemon.sh' });
  assert.equal(health.code, 0, health.stdout + health.stderr);
  assert.match(health.stdout, /dispatch paused: all \(maintenance\)/);
  const dashboard = await run(t.home, ['--status'], { script: 'dashboards/daemon-monitor.sh' });
  assert.match(dashboard.stdout, /dispatch paused: all/);
  const json = JSON.parse((await run(t.home, ['--status', '--json'], { script: 'dashboards/daemon-monitor.sh' })).stdout);
  assert.deepEqual(json.dispatch_pauses.map((p) => p.scope), ['all']);

  const resumed = await run(t.home, [], { script: 'resume-dispatch.sh' });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(readJson(t.paths.dispatchPauses).pauses, []);
  const resumedEvent = named(t.home, 'dispatch_resumed').at(-1);
  assert.deepEqual([resumedEvent.data.scope, resumedEvent.data.by, resumedEvent.data.paused_by], ['all', 'operator', 'operator']);
  await waitFor(() => statusOf(t.home, fresh) === 'running', { what: 'the new worker to start after resume', timeoutMs: 20_000 });
  await waitFor(() => readJson(t.paths.taskQueue).tasks.find((q) => q.task_id === taskId).status !== 'queued', { what: 'the task to be dispatched', timeoutMs: 20_000 });
  await waitFor(() => (readSpecFile(t.home, 'active', crashing)?.execution?.restart_count ?? 0) >= 2, { what: 'the crashed worker restarted', timeoutMs: 20_000 });
  await waitFor(() => pmState(t.home).dispatch.paused === false, { what: 'pm-state to show no pause' });
}));

test('a pause of one type survives a daemon restart and ends by itself at --until', () => withHome(SCOPE, async (t) => {
  const until = new Date(Date.now() + 6000).toISOString();
  const paused = await run(t.home, ['--type', 'forever', '--until', until], { script: 'pause-dispatch.sh' });
  assert.equal(paused.code, 0, paused.stderr);
  const held = uniqueId('p-held');
  const other = uniqueId('p-other');
  writePendingSpec(t.home, held, { workerType: 'forever' });
  writePendingSpec(t.home, other, { workerType: 'crash' });
  const first = await t.startDaemon();
  await waitFor(() => statusOf(t.home, other) !== 'pending', { what: 'the worker of another type to start', timeoutMs: 20_000 });
  await morePasses(t.home, 3);
  // (On a slow machine the pause may have ended by now: then only its start time below is checked.)
  if (Date.now() < Date.parse(until) - 500) {
    assert.equal(statusOf(t.home, held), 'pending');
    assert.deepEqual(pmState(t.home).dispatch.pauses.map((p) => p.scope), ['type forever']);
  }
  await stopDaemon(first);
  await t.startDaemon();
  await morePasses(t.home, 3);
  if (Date.now() < Date.parse(until) - 500) assert.equal(statusOf(t.home, held), 'pending', 'still paused after the daemon restarted');
  await waitFor(() => statusOf(t.home, held) === 'running', { what: 'the paused worker to start once the pause ended', timeoutMs: 30_000 });
  const started = Date.parse(readSpecFile(t.home, 'active', held).execution.started_at);
  assert.ok(started >= Date.parse(until) - 1000, `started at ${new Date(started).toISOString()}, the pause ran until ${until}`);
  const ended = named(t.home, 'dispatch_resumed').at(-1);
  assert.deepEqual([ended.data.scope, ended.data.by, ended.data.until], ['type forever', 'expiry', until]);
  assert.deepEqual(readJson(t.paths.dispatchPauses).pauses, []);
}));

test('bad input to pause-dispatch and resume-dispatch: one line, non-zero exit, nothing changed', () => withHome(SCOPE, async (t) => {
  /** @type {Array<[string[], string, RegExp]>} */
  const cases = [
    [['--type', 'nope'], 'pause-dispatch.sh', /unknown worker type "nope"/],
    [['--until', 'tomorrow'], 'pause-dispatch.sh', /--until must be an ISO-8601 time/],
    [['--until', '2001-01-01T00:00:00Z'], 'pause-dispatch.sh', /--until 2001-01-01T00:00:00Z is in the past/],
    [['--type', 'nope'], 'resume-dispatch.sh', /unknown worker type "nope"/],
    [['--bogus'], 'pause-dispatch.sh', /Unknown argument/],
  ];
  for (const [args, script, pattern] of cases) {
    const result = await run(t.home, args, { script });
    assert.notEqual(result.code, 0, `${script} ${args.join(' ')}`);
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.equal(existsSync(t.paths.dispatchPauses), false);
    assert.equal(existsSync(t.paths.activity) ? readFileSync(t.paths.activity, 'utf8') : '', '');
  }
  const nothing = await run(t.home, [], { script: 'resume-dispatch.sh' });
  assert.equal(nothing.code, 0, nothing.stderr);
  assert.match(nothing.stdout, /nothing to resume/);
}));

test('resume-dispatch --type ends a provider\'s rate-limit pause that covers the type, and leaves other pauses', () => withHome(SCOPE, async (t) => {
  const at = new Date().toISOString();
  const until = new Date(Date.now() + 3_600_000).toISOString();
  const pauses = [
    { type: null, types: ['forever'], provider: 'acme', reason: 'rate limited', until, by: 'rate_limit', at, worker_ids: ['w1', 'w2'] },
    { type: 'crash', reason: 'deploy', until: null, by: 'operator', at },
  ];
  writeFileSync(t.paths.dispatchPauses, JSON.stringify({ pauses }));
  const resumed = await run(t.home, ['--type', 'forever'], { script: 'resume-dispatch.sh' });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(readJson(t.paths.dispatchPauses).pauses.map((p) => p.type), ['crash']);
  const event = named(t.home, 'dispatch_resumed').at(-1);
  assert.deepEqual([event.data.provider, event.data.paused_by, event.data.by], ['acme', 'rate_limit', 'operator']);
}));
