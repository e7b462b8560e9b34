// Rate limits and provider outages against a real daemon and real (sh) workers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { events, eventsOf, pmState } from '../helpers/daemon.js';
import { fixtureCommand, QUICK, readJson, run, SCRIPTS, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile, uniqueId, writePendingSpec } from '../helpers/specs.js';

const once = (code, line = '') => fixtureCommand('rate-limit-once.sh', '{home}/marker-{worker_id}', String(code), line);
const PATTERN = 'usage limit reached\\|(?<reset>\\d+)';
/** Epoch seconds `secondsAhead` from now, rounded up. */
const epochIn = (secondsAhead) => Math.ceil(Date.now() / 1000) + secondsAhead;

const finished = (home, id) => readSpecFile(home, 'completed', id) ?? readSpecFile(home, 'failed', id);

test('an exit code in rate_limit_exit_codes: restarted after its backoff without using up max_restarts', () => withHome({
  types: { agent: { command: once(75), ...QUICK, restart_backoff_seconds: 1, restart_backoff_max_seconds: 1, max_restarts: 0, rate_limit_exit_codes: [75] } },
}, async (t) => {
  await t.startDaemon();
  const id = uniqueId('rl-code');
  writePendingSpec(t.home, id, { workerType: 'agent' });
  const done = await waitFor(() => finished(t.home, id), { what: 'the worker to finish', timeoutMs: 30_000 });
  assert.equal(done.status, 'completed', done.error);
  assert.equal(done.execution.restart_count, 0, 'the wait is not a restart against max_restarts (0 here)');
  assert.equal(done.execution.rate_limit_waits, 1);
  const limited = eventsOf(t.home, id, 'worker_rate_limited');
  assert.equal(limited.length, 1);
  assert.equal(limited[0].data.source, 'exit_code');
  assert.equal(limited[0].data.rate_limit_waits, 1);
  const exited = eventsOf(t.home, id, 'worker_exited').find((e) => e.data.decision === 'rate_limit_wait');
  assert.ok(exited, 'worker_exited says it waits out a rate limit');
}));

test('a rate-limit line in the output: the named group reset is when the restart comes', () => withHome({
  types: { agent: { command: once(1, `Claude AI usage limit reached|${epochIn(4)}`), ...QUICK, max_restarts: 0, rate_limit_patterns: [PATTERN] } },
}, async (t) => {
  await t.startDaemon();
  const id = uniqueId('rl-out');
  writePendingSpec(t.home, id, { workerType: 'agent' });
  const limited = await waitFor(() => eventsOf(t.home, id, 'worker_rate_limited')[0], { what: 'worker_rate_limited', timeoutMs: 20_000 });
  assert.equal(limited.data.source, 'output');
  assert.equal(limited.data.reset_known, true);
  const spec = readSpecFile(t.home, 'active', id);
  assert.equal(spec.status, 'pending');
  assert.equal(spec.execution.next_restart_at, limited.data.reset_at);
  await waitFor(() => pmState(t.home).monitored_workers[id]?.health_state === 'backoff', { what: 'health backoff while it waits' });
  const done = await waitFor(() => finished(t.home, id), { what: 'the worker to finish after the reset', timeoutMs: 30_000 });
  assert.equal(done.status, 'completed', done.error);
  assert.equal(done.execution.restart_count, 0);
  assert.ok(Date.parse(done.execution.started_at) >= Date.parse(limited.data.reset_at), `restarted at ${done.execution.started_at}, before the reset ${limited.data.reset_at}`);
}));

test('more than max_rate_limit_waits rate limits fail the worker with that reason', () => withHome({
  types: { agent: { command: fixtureCommand('exit-with.sh', '75'), ...QUICK, max_restarts: 0, rate_limit_exit_codes: [75], max_rate_limit_waits: 2 } },
}, async (t) => {
  await t.startDaemon();
  const id = uniqueId('rl-max');
  writePendingSpec(t.home, id, { workerType: 'agent' });
  const done = await waitFor(() => finished(t.home, id), { what: 'the worker to fail', timeoutMs: 30_000 });
  assert.equal(done.status, 'failed');
  assert.match(done.error, /rate limited 3 times, more than max_rate_limit_waits 2/);
  assert.equal(done.execution.restart_count, 0);
  assert.equal(eventsOf(t.home, id, 'worker_rate_limited').length, 2);
}));

test('two workers of one provider rate limited pause its types until the latest reset (event, alert), then dispatch resumes', () => withHome({
  types: {
    a: { command: once(1, `usage limit reached|${epochIn(5)}`), ...QUICK, provider: 'acme', rate_limit_patterns: [PATTERN] },
    b: { command: once(75), ...QUICK, provider: 'acme', rate_limit_exit_codes: [75], restart_backoff_seconds: 1, restart_backoff_max_seconds: 1 },
    other: { command: fixtureCommand('exit-with.sh', '0'), ...QUICK },
  },
}, async (t) => {
  await t.startDaemon();
  const first = uniqueId('rl-a');
  const second = uniqueId('rl-b');
  writePendingSpec(t.home, first, { workerType: 'a' });
  writePendingSpec(t.home, second, { workerType: 'b' });
  const paused = await waitFor(() => events(t.home).find((e) => e.event === 'dispatch_paused'), { what: 'dispatch_paused', timeoutMs: 20_000 });
  assert.equal(paused.data.by, 'rate_limit');
  assert.equal(paused.data.provider, 'acme');
  assert.deepEqual(paused.data.types, ['a', 'b']);
  assert.deepEqual([...paused.data.worker_ids].sort(), [first, second].sort());
  const resetAt = Date.parse(eventsOf(t.home, first, 'worker_rate_limited')[0].data.reset_at);
  assert.ok(Math.abs(Date.parse(paused.data.until) - resetAt) < 1000, `paused until ${paused.data.until}, the latest reset is ${new Date(resetAt).toISOString()}`);
  const alert = await waitFor(() => readJson(t.paths.alerts).alerts.find((x) => x.type === 'provider_rate_limited' && x.status === 'active'), { what: 'the provider_rate_limited alert', timeoutMs: 10_000 });
  assert.deepEqual([...alert.worker_ids].sort(), [first, second].sort());
  // While paused: a task of the provider waits, one of another provider runs; b's restart (1 s backoff) waits too.
  const queued = (await run(t.home, ['--description', 'x', '--worker-type', 'b'], { script: 'create-task.sh' })).stdout.trim();
  const elsewhere = uniqueId('rl-other');
  writePendingSpec(t.home, elsewhere, { workerType: 'other' });
  await waitFor(() => finished(t.home, elsewhere), { what: 'the other provider\'s worker to run', timeoutMs: 20_000 });
  if (Date.now() < resetAt - 1000) {
    assert.equal(readJson(t.paths.taskQueue).tasks.find((q) => q.task_id === queued).status, 'queued');
    assert.equal(readSpecFile(t.home, 'active', second)?.status, 'pending');
    assert.equal(pmState(t.home).dispatch.pauses[0].by, 'rate_limit');
  }
  await waitFor(() => finished(t.home, first) && finished(t.home, second), { what: 'both workers to finish after the reset', timeoutMs: 30_000 }).catch((error) => {
    console.error(JSON.stringify({ events: events(t.home).map((e) => [e.timestamp, e.event, e.worker_id, e.data.decision ?? e.data.by ?? '']), a: readSpecFile(t.home, 'active', first), b: readSpecFile(t.home, 'active', second), pauses: readJson(t.paths.dispatchPauses) }, null, 1));
    throw error;
  });
  assert.ok(Date.parse(finished(t.home, second).execution.started_at) >= resetAt - 50, 'b restarted only after the pause');
  const resumed = await waitFor(() => events(t.home).find((e) => e.event === 'dispatch_resumed'), { what: 'dispatch_resumed', timeoutMs: 10_000 });
  assert.deepEqual([resumed.data.by, resumed.data.paused_by, resumed.data.provider], ['expiry', 'rate_limit', 'acme']);
  await waitFor(() => readJson(t.paths.taskQueue).tasks.find((q) => q.task_id === queued).status !== 'queued', { what: 'the held task dispatched', timeoutMs: 20_000 });
  await waitFor(() => readJson(t.paths.alerts).alerts.find((x) => x.type === 'provider_rate_limited')?.status === 'resolved', { what: 'the alert resolved', timeoutMs: 70_000 });
  assert.equal(events(t.home).filter((e) => e.event === 'dispatch_paused').length, 1, 'paused once');
}));

test('a running worker that checked in rate_limited is not stalled while it waits for its retry_at', () => withHome({
  types: { agent: { command: fixtureCommand('checkin-rate-limited.sh', join(SCRIPTS, 'checkin.sh'), '6', '4'), ...QUICK, checkin_timeout_seconds: 1, stall_timeout_seconds: 2, startup_grace_seconds: 0 } },
}, async (t) => {
  await t.startDaemon();
  const id = uniqueId('rl-ck');
  writePendingSpec(t.home, id, { workerType: 'agent' });
  const limited = await waitFor(() => eventsOf(t.home, id, 'worker_rate_limited')[0], { what: 'worker_rate_limited from the check-in', timeoutMs: 20_000 });
  assert.equal(limited.data.source, 'checkin');
  assert.ok(limited.data.reset_at);
  await waitFor(() => pmState(t.home).monitored_workers[id]?.health_state === 'backoff', { what: 'health backoff while it waits', timeoutMs: 10_000 });
  const done = await waitFor(() => finished(t.home, id), { what: 'the worker to finish', timeoutMs: 30_000 });
  assert.equal(done.status, 'completed', done.error);
  assert.deepEqual(eventsOf(t.home, id).filter((e) => ['worker_stalled', 'missed_checkin', 'worker_killed'].includes(e.event)), []);
}));
