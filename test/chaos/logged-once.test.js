// Each change logged exactly once, also across a SIGKILL of whoever made it (issue 10, item 9). A change's
// events are written into its spec (outbox) with the change and appended after; these are the states a
// SIGKILL leaves in between, built by hand so each runs in a second, and a real daemon killed mid-run.
//
//   node --test test/chaos/logged-once.test.js
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { eventLogProblems } from './support.js';
import { events, eventsOf, spawnDaemon, startDaemon, stopDaemon } from '../helpers/daemon.js';
import { coord, defined, fixtureCommand, QUICK, run, waitFor } from '../helpers/home.js';
import { procStat } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';

const TYPES = { ok: { command: fixtureCommand('exit-with.sh', '0', '0.2'), ...QUICK } };
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const write = (file, value) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
const once = (home) => run(home, ['pm-daemon', '--once', '--quiet']);

/** A writer that is gone: this test's pid with start ticks it never had (what a pid reused after a SIGKILL looks like). */
const deadWriter = () => ({ pid: process.pid, start_ticks: 1, boot_id: bootId });

function completedSpec(id, writer, at = new Date().toISOString()) {
  const ids = { worker_id: id, task_id: null };
  return {
    worker_id: id,
    worker_type: 'ok',
    task_id: null,
    status: 'completed',
    created_at: at,
    task: { description: id },
    execution: { started_at: at, completed_at: at, pid: null, restart_count: 0, exit_code: 0, signal: null, run_id: 'run-x' },
    error: null,
    outbox: [
      {
        writer,
        at,
        events: [
          { ...ids, event: 'worker_exited', timestamp: at, event_id: `ev-${id}-1`, data: { exit_code: 0, signal: null, decision: 'complete' } },
          { ...ids, event: 'worker_completed', timestamp: at, event_id: `ev-${id}-2`, data: { exit_code: 0, restart_count: 0 } },
        ],
      },
    ],
  };
}

test('killed after writing a completed spec, before logging its events: the next daemon logs them, once', () => withHome({ types: TYPES }, async ({ home }) => {
  write(coord(home, 'worker-specs', 'completed', 'worker-ok-a.json'), completedSpec('worker-ok-a', deadWriter()));
  assert.equal((await once(home)).code, 0);
  assert.equal((await once(home)).code, 0);
  const logged = eventsOf(home, 'worker-ok-a');
  assert.deepEqual(logged.map((e) => e.event), ['worker_exited', 'worker_completed'], 'each event of the change is logged, once, in order');
  assert.ok(logged.every((e) => e.recovered === true && e.event_id.startsWith('ev-worker-ok-a-')), 'marked recovered, with their ids');
  assert.deepEqual(eventLogProblems(home), []);
}));

test('killed after logging them: nothing is logged again', () => withHome({ types: TYPES }, async ({ home }) => {
  const spec = completedSpec('worker-ok-b', deadWriter());
  write(coord(home, 'worker-specs', 'completed', 'worker-ok-b.json'), spec);
  appendFileSync(coord(home, 'pm-activity.jsonl'), spec.outbox[0].events.map((e) => `${JSON.stringify(e)}\n`).join(''));
  assert.equal((await once(home)).code, 0);
  assert.deepEqual(eventsOf(home, 'worker-ok-b').map((e) => e.event), ['worker_exited', 'worker_completed']);
  assert.deepEqual(eventLogProblems(home), []);
}));

test('a writer still running appends its own: the daemon waits, and logs them once the writer is gone without them', () => withHome({ types: TYPES }, async ({ home, tracker }) => {
  const writer = spawn('sleep', ['30'], { stdio: 'ignore' });
  const pid = defined(writer.pid, 'the writer\'s pid');
  tracker.pid(pid);
  const stat = defined(procStat(pid), 'the writer\'s /proc/PID/stat');
  write(coord(home, 'worker-specs', 'completed', 'worker-ok-c.json'), completedSpec('worker-ok-c', { pid, start_ticks: stat.startTicks, boot_id: bootId }));
  assert.equal((await once(home)).code, 0);
  assert.deepEqual(eventsOf(home, 'worker-ok-c'), [], 'a live writer is left to append its own events');
  writer.kill('SIGKILL');
  await waitFor(() => procStat(pid) === undefined || procStat(pid)?.state === 'Z', { what: 'the writer to die' });
  assert.equal((await once(home)).code, 0);
  assert.equal((await once(home)).code, 0);
  assert.deepEqual(eventsOf(home, 'worker-ok-c').map((e) => e.event), ['worker_exited', 'worker_completed'], 'logged once its writer died without them, and not again');
}));

test('a group older than an hour is left alone (it was recovered long ago, or its log is gone)', () => withHome({ types: TYPES }, async ({ home }) => {
  write(coord(home, 'worker-specs', 'completed', 'worker-ok-d.json'), completedSpec('worker-ok-d', deadWriter(), new Date(Date.now() - 2 * 3600_000).toISOString()));
  assert.equal((await once(home)).code, 0);
  assert.deepEqual(eventsOf(home, 'worker-ok-d'), []);
}));

test('a real worker completes under a daemon: its events carry ids that are in its spec, each logged once', () => withHome({ types: TYPES }, async ({ home, tracker }) => {
  const created = await run(home, ['create-task', '--description', 'one', '--worker-type', 'ok']);
  assert.equal(created.code, 0, created.stderr);
  const daemon = await startDaemon(home, { tracker });
  try {
    await waitFor(() => events(home).some((e) => e.event === 'worker_completed'), { what: 'worker_completed', timeoutMs: 20_000 });
  } finally {
    await stopDaemon(daemon);
  }
  const completed = events(home).find((e) => e.event === 'worker_completed');
  assert.match(String(completed?.event_id), /^ev-/);
  assert.deepEqual(eventLogProblems(home), []);
}));

test('a worker late when its daemon is SIGKILLed is not logged late again by the next daemon', () => withHome({ types: { slow: { command: fixtureCommand('forever.sh'), ...QUICK, checkin_timeout_seconds: 1, stall_timeout_seconds: 600, startup_grace_seconds: 0 } } }, async ({ home, tracker }) => {
  const created = await run(home, ['create-task', '--description', 'silent', '--worker-type', 'slow']);
  assert.equal(created.code, 0, created.stderr);
  const first = await startDaemon(home, { tracker });
  await waitFor(() => events(home).some((e) => e.event === 'missed_checkin'), { what: 'missed_checkin', timeoutMs: 40_000 });
  await waitFor(() => Object.values(JSON.parse(readFileSync(coord(home, 'pm-state.json'), 'utf8')).monitored_workers).some((w) => w.health_state === 'late'), { what: 'pm-state to show it late', timeoutMs: 40_000 });
  await stopDaemon(first, 'SIGKILL');
  // As fast as the first (startDaemon's 0.5 s): without PM_LOOP_INTERVAL it took the 5 s default, and the three
  // passes waited for below took 10 s more without counting any more passes.
  const second = spawnDaemon(home, { tracker, env: { PM_LOOP_INTERVAL: '0.5' } });
  try {
    await waitFor(() => events(home).filter((e) => e.event === 'pm_started').length === 2, { what: 'the second daemon', timeoutMs: 40_000 });
    const loops = () => JSON.parse(readFileSync(coord(home, 'pm-state.json'), 'utf8')).pm_daemon;
    await waitFor(() => loops().pid === second.child.pid && loops().loops_completed >= 3, { what: 'three passes of the second daemon', timeoutMs: 40_000 });
  } finally {
    await stopDaemon(second);
  }
  assert.equal(events(home).filter((e) => e.event === 'missed_checkin').length, 1, 'the change to late is logged once');
}));

test('killed while stopping a stalled worker (its reason recorded, no exit record): the next daemon logs the stop\'s end, not a zombie', () => withHome({ types: TYPES }, async ({ home }) => {
  const gone = spawn('true', [], { stdio: 'ignore' });
  const pid = defined(gone.pid, 'a pid');
  await new Promise((resolve) => gone.once('exit', resolve));
  const at = new Date().toISOString();
  write(coord(home, 'worker-specs', 'active', 'worker-ok-s.json'), {
    worker_id: 'worker-ok-s',
    worker_type: 'ok',
    task_id: null,
    status: 'running',
    created_at: at,
    task: { description: 'stalled' },
    // What the daemon writes before the first signal of a stop (withStopRequested): the reason, the run still recorded.
    execution: { started_at: at, completed_at: null, pid, process_start_ticks: 1, boot_id: bootId, run_id: 'run-s', restart_count: 0, exit_code: null, signal: null, stop_reason: 'stalled' },
    error: null,
  });
  assert.equal((await once(home)).code, 0);
  const logged = eventsOf(home, 'worker-ok-s');
  assert.deepEqual(logged.filter((e) => e.event === 'zombie_detected'), [], 'a run its daemon was stopping is not a zombie');
  const exited = logged.find((e) => e.event === 'worker_exited');
  assert.equal(exited?.data.stop_reason, 'stalled');
  assert.equal(exited?.data.decision, 'restart');
}));

test('killed after writing a started spec, before logging its events, and the run ends before the next daemon\'s first pass: that pass completes it and logs the started events once', () => withHome({ types: TYPES }, async ({ home }) => {
  // The spec is in the pass's view of active/ and, moved by that same pass, in completed/: the recovery that
  // follows the pass sees the dead writer's group in both, and once appended it twice.
  const gone = spawn('true', [], { stdio: 'ignore' });
  const pid = defined(gone.pid, 'a pid');
  await new Promise((resolve) => gone.once('exit', resolve));
  const at = new Date().toISOString();
  const id = 'worker-ok-r';
  const ids = { worker_id: id, task_id: null };
  write(coord(home, 'worker-specs', 'active', `${id}.json`), {
    worker_id: id,
    worker_type: 'ok',
    task_id: null,
    status: 'running',
    created_at: at,
    task: { description: 'started by a daemon killed before its append' },
    execution: { started_at: at, completed_at: null, pid, process_start_ticks: 1, boot_id: bootId, run_id: 'run-r', restart_count: 0, exit_code: null, signal: null },
    error: null,
    outbox: [{ writer: deadWriter(), at, events: [{ ...ids, event: 'worker_started', timestamp: at, event_id: `ev-${id}-1`, data: { pid, run_id: 'run-r', restart_count: 0 } }] }],
  });
  writeFileSync(coord(home, 'worker-exits', `${id}.json`), `${JSON.stringify({ worker_id: id, run_id: 'run-r', status: 0 })}\n`);
  assert.equal((await once(home)).code, 0);
  assert.equal((await once(home)).code, 0);
  const logged = eventsOf(home, id);
  assert.deepEqual(logged.filter((e) => e.event === 'worker_started').map((e) => e.event_id), [`ev-${id}-1`], 'the started event is logged once');
  assert.ok(logged.some((e) => e.event === 'worker_completed'), 'the pass completed it');
  assert.deepEqual(eventLogProblems(home), []);
}));
