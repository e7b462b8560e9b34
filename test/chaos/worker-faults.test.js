// Chaos: workers and disks that misbehave.
// - A worker that ignores SIGTERM and forks a grandchild that ignores it too, stalled: its whole group goes.
// - Workers that exit on their own right at the moment the daemon stops them for stalling, raced many
//   times: each ends in exactly one consistent state.
// - A full disk under the home (a tmpfs; skipped, saying why, where mount is not allowed): an event appended
//   then leaves no partial line; the daemon keeps running, corrupts nothing, and recovers when space comes back.
//
//   node --test test/chaos/worker-faults.test.js               CI: 24 races (about 20 s in all)
//   CHAOS_RACES=200 node --test test/chaos/worker-faults.test.js          more races (in batches of 12)
//   CHAOS_LONG=1 node --test test/chaos/                       the long run of every chaos test (200 races here)
//   CHAOS_DISK_LOG_LEVEL=silent                                the full-disk test with the daemon's own log silenced
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LONG, describeHome, envNumber, locateSpecs, readQueue, readSpecAnywhere, taskProblems, unparsableFiles, workerProcesses } from './support.js';
import { events, eventsOf, stopDaemon } from '../helpers/daemon.js';
import { coord, defined, FIXTURES, readJson, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';

const RACES = envNumber('CHAOS_RACES', LONG ? 200 : 24);
const fixture = (name, ...args) => ['sh', join(FIXTURES, name), ...args];

function liveState(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X' ? undefined : state;
  } catch {
    return undefined;
  }
}

/** Queues tasks by writing task-queue.json directly while no daemon runs: many tasks without many create-task processes. */
function writeQueue(home, tasks) {
  const now = new Date().toISOString();
  const queue = {
    tasks: [...readQueue(home).tasks, ...tasks.map(({ id, type, description }) => ({
      task_id: id,
      description,
      priority: 'medium',
      worker_type: type,
      status: 'queued',
      created_at: now,
      metadata: {},
      worker_id: null,
      assigned_at: null,
      completed_at: null,
      error: null,
    }))],
  };
  writeFileSync(coord(home, 'task-queue.json'), `${JSON.stringify(queue, null, 2)}\n`);
  return tasks.map(({ id, type }) => ({ taskId: id, workerId: `worker-${type}-${id.slice(5)}`, type }));
}

test('a stalled worker that ignores SIGTERM and forked a grandchild is stopped with its whole group', { timeout: 60_000 }, () => withHome({}, async ({ startDaemon, makeHome }) => {
  const home = makeHome({
    stubborn: {
      command: fixture('fork-ignore-term.sh', '{home}/pids-{worker_id}'),
      checkin_timeout_seconds: 0.3,
      stall_timeout_seconds: 0.6,
      startup_grace_seconds: 0,
      stop_grace_seconds: 1,
      max_restarts: 0,
    },
  });
  const [{ workerId, taskId }] = writeQueue(home, [{ id: 'task-stubborn-1', type: 'stubborn', description: 'ignore TERM' }]);
  await startDaemon({ home, env: { PM_LOOP_INTERVAL: '0.2' } });

  const pidsFile = join(home, `pids-${workerId}`);
  await waitFor(() => existsSync(pidsFile), { what: 'the worker to write its pids' });
  const [workerPid, grandchildPid] = readFileSync(pidsFile, 'utf8').trim().split(' ').map(Number);
  const shimPid = readJson(coord(home, 'worker-specs', 'active', `${workerId}.json`)).execution.pid;
  assert.ok(liveState(shimPid) && liveState(workerPid) && liveState(grandchildPid), 'shim, worker and grandchild run');
  assert.equal(Number(readFileSync(`/proc/${grandchildPid}/stat`, 'utf8').split(') ')[1].split(' ')[2]), shimPid, 'the grandchild is in the shim\'s process group');

  await waitFor(() => existsSync(coord(home, 'worker-specs', 'failed', `${workerId}.json`)), { what: 'the worker to be stopped and failed', timeoutMs: 20_000 });
  for (const [name, pid] of [['shim', shimPid], ['worker', workerPid], ['grandchild', grandchildPid]]) {
    assert.equal(liveState(pid), undefined, `the ${name} (pid ${pid}) is gone`);
  }
  assert.deepEqual(workerProcesses(home), [], 'no process of the worker is left');
  const spec = readJson(coord(home, 'worker-specs', 'failed', `${workerId}.json`));
  assert.equal(spec.status, 'failed');
  assert.equal(spec.execution.signal, 'SIGKILL');
  assert.equal(spec.execution.exit_code, null);
  assert.equal(spec.execution.stop_reason, 'stalled');
  assert.match(spec.error, /stalled/);
  const [stalled] = eventsOf(home, workerId, 'worker_stalled');
  const killed = eventsOf(home, workerId, 'worker_killed');
  assert.equal(killed.length, 1, 'killed once');
  assert.equal(killed[0].data.outcome, 'killed', 'TERM was ignored, so it took a KILL');
  assert.ok(Date.parse(killed[0].timestamp) - Date.parse(stalled.timestamp) >= 900, 'the KILL came only after the 1 s grace');
  // The task is settled just after the spec moves.
  await waitFor(() => readQueue(home).tasks.find((task) => task.task_id === taskId).status === 'failed', { what: 'the task to be failed', timeoutMs: 5_000 });
}));

test(`${RACES} workers that exit on their own just as the daemon stops them each end in one consistent state`, { timeout: 60_000 + RACES * 1_000 }, (t) => withHome({}, async ({ startDaemon, makeHome }) => {
  // Each racer sleeps its task's description (seconds), then exits 0 or 3 on its own. It never checks in,
  // so with no startup grace it is stalled 0.5 s after its start and the daemon stops it (TERM, 1 s, KILL);
  // the TERM lands some tens of ms later, depending on the machine. The first batch spreads the sleeps over
  // 0.45–0.75 s; each later batch centres them (±60 ms) on the median moment the stalls were seen, so its
  // own exit comes just before, at and just after the stop.
  const racer = (code) => ({ command: fixture('exit-with.sh', code, '{description}'), checkin_timeout_seconds: 0.25, stall_timeout_seconds: 0.5, startup_grace_seconds: 0, stop_grace_seconds: 1, max_restarts: 0 });
  const home = makeHome({ racer0: racer('0'), racer3: racer('3') }, { daemonConfig: { max_concurrent_workers: 64, mass_action_min: 1000 } });
  const outcomes = new Map();
  const problems = [];
  let daemon;
  let window = [0.45, 0.75];
  const BATCH = 12;
  for (let done = 0, batch = 0; done < RACES; batch += 1) {
    const size = Math.min(BATCH, RACES - done);
    const tasks = [];
    for (let i = 0; i < size; i += 1) tasks.push({ id: `task-race-${batch}-${i}`, type: i % 2 === 0 ? 'racer0' : 'racer3', description: (window[0] + Math.random() * (window[1] - window[0])).toFixed(3) });
    if (daemon) await stopDaemon(daemon);
    const racers = writeQueue(home, tasks);
    daemon = await startDaemon({ home, env: { PM_LOOP_INTERVAL: '0.2' } });
    await waitFor(() => racers.every(({ workerId }) => ['completed', 'failed'].some((f) => existsSync(coord(home, 'worker-specs', f, `${workerId}.json`)))), {
      what: `batch ${batch} to end`,
      timeoutMs: 30_000,
      intervalMs: 50,
    }).catch((error) => problems.push(error.message));
    // Let anything in flight (a background stop recording its end, a task being settled) finish before judging.
    await waitFor(() => workerProcesses(home).length === 0, { what: 'every racer process to be gone', timeoutMs: 10_000 });
    await waitFor(() => readQueue(home).tasks.every((task) => task.status !== 'queued' && task.status !== 'assigned'), { what: `batch ${batch}'s tasks to be settled`, timeoutMs: 5_000 }).catch((error) => problems.push(error.message));
    // A finished worker's events are appended an instant after its task is settled (one append, worker's then task's).
    await waitFor(
      () => {
        const ended = new Set(events(home).filter((ev) => ev.event === 'worker_completed' || ev.event === 'worker_failed').map((ev) => ev.worker_id));
        return racers.every(({ workerId }) => ended.has(workerId));
      },
      { what: `batch ${batch}'s end events`, timeoutMs: 5_000 },
    ).catch(() => undefined);
    const queue = new Map(readQueue(home).tasks.map((task) => [task.task_id, task]));
    const log = events(home);
    const stallAfter = [];
    for (const { taskId, workerId, type } of racers) {
      const found = readSpecAnywhere(home, workerId);
      const description = defined(tasks.find((x) => x.id === taskId), taskId).description;
      const where = `${type} ${workerId} (exits after ${description} s)`;
      if (found === undefined) {
        problems.push(`${where}: no spec`);
        continue;
      }
      const { place, spec } = found;
      const e = spec.execution;
      const stalled = log.find((ev) => ev.worker_id === workerId && ev.event === 'worker_stalled');
      if (stalled && e.started_at) stallAfter.push((Date.parse(stalled.timestamp) - Date.parse(e.started_at)) / 1000);
      const terminal = log.filter((ev) => ev.worker_id === workerId && (ev.event === 'worker_completed' || ev.event === 'worker_failed')).map((ev) => ev.event);
      const key = `${place}: exit_code ${e.exit_code}, signal ${e.signal}, stop_reason ${e.stop_reason ?? null}`;
      outcomes.set(`${type} ${key}`, (outcomes.get(`${type} ${key}`) ?? 0) + 1);
      if (place !== 'completed' && place !== 'failed') problems.push(`${where}: ended in ${place}/ (status ${spec.status})`);
      if (spec.status !== place) problems.push(`${where}: status ${spec.status} in ${place}/`);
      if (terminal.length !== 1 || terminal[0] !== (place === 'completed' ? 'worker_completed' : 'worker_failed')) problems.push(`${where}: in ${place}/ with terminal events [${terminal.join(', ')}]`);
      const task = queue.get(taskId);
      if (task?.status !== place) problems.push(`${where}: in ${place}/ but its task is ${task?.status}`);
      if (e.exit_code !== null && e.signal !== null) problems.push(`${where}: records both exit_code ${e.exit_code} and signal ${e.signal} (${place}/, error ${JSON.stringify(spec.error)})`);
      // Exit code 0 means the fixture ended on its own (it does not trap TERM): its work is done, so its true end is completed/.
      if (e.exit_code === 0 && place !== 'completed') problems.push(`${where}: exited 0 on its own but ended in ${place}/ with error ${JSON.stringify(spec.error)}`);
      if (place === 'completed' && (type !== 'racer0' || e.exit_code !== 0 || e.signal !== null)) problems.push(`${where}: completed with exit_code ${e.exit_code} signal ${e.signal}`);
      if (type === 'racer3' && e.exit_code !== 3 && !(e.exit_code === null && /^SIG(TERM|KILL)$/.test(e.signal ?? ''))) problems.push(`${where}: records exit_code ${e.exit_code} signal ${e.signal}`);
    }
    done += size;
    if (stallAfter.length > 0) {
      const median = stallAfter.sort((a, b) => a - b)[Math.floor(stallAfter.length / 2)];
      window = [median - 0.05, median + 0.07];
    }
  }
  const located = locateSpecs(home);
  problems.push(...located.duplicates, ...unparsableFiles(home), ...taskProblems(home, []));
  t.diagnostic(`outcomes: ${[...outcomes].sort().map(([k, v]) => `${v}× ${k}`).join('; ')}`);
  assert.deepEqual(problems, [], `inconsistent end states:\n${problems.join('\n')}`);
}));

/** Fills the file system under dir: big writes, then smaller ones, until not one byte more fits. */
function fillDisk(file) {
  const fd = openSync(file, 'a');
  let written = 0;
  try {
    for (const size of [1 << 18, 1 << 12, 1 << 8, 1]) {
      const chunk = Buffer.alloc(size, 120);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (error) {
          if (error.code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/** Mounts a tmpfs of the given size for the test (unmounted by the scope's tear-down), or skips the test saying why it cannot. */
function mountTmpfs(t, size, { defer, tracker }) {
  const mnt = mkdtempSync(join(tmpdir(), 'relay-chaos-tmpfs-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    rmdirSync(mnt);
    t.skip(`cannot mount a ${size} tmpfs for the home (${(mounted.stderr || mounted.error?.message || `exit ${mounted.status}`).trim()}); a full disk needs root or CAP_SYS_ADMIN`);
    return undefined;
  }
  const home = join(mnt, 'home');
  defer(() => {
    tracker.killHome(home);
    tracker.cleanup();
    // Busy until the last process with a file open inside is gone: retry, then detach it lazily.
    for (let i = 0; i < 50; i += 1) {
      if (spawnSync('umount', [mnt]).status === 0) break;
      if (i === 49) spawnSync('umount', ['-l', mnt]);
      spawnSync('sleep', ['0.1']);
    }
    rmSync(mnt, { recursive: true, force: true });
  });
  return { mnt, home };
}

test('an event appended on a full disk leaves no partial line in pm-activity.jsonl', { timeout: 30_000 }, (t) => withHome({}, async ({ tracker, defer }) => {
  const mounted = mountTmpfs(t, '1m', { defer, tracker });
  if (mounted === undefined) return;
  const { mnt, home } = mounted;
  mkdirSync(coord(home, 'config'), { recursive: true });
  writeFileSync(coord(home, 'config', 'worker-types.json'), JSON.stringify({ worker_types: { x: { command: ['true'] } } }));
  // The log ends a few bytes short of a page: a tmpfs that is full still takes those bytes, then no more.
  const pad = `${JSON.stringify({ timestamp: new Date().toISOString(), event: 'pad', data: {} })}\n`;
  writeFileSync(coord(home, 'pm-activity.jsonl'), pad.repeat(Math.floor((4096 - 20) / pad.length)));
  fillDisk(join(mnt, 'filler'));
  const before = readFileSync(coord(home, 'pm-activity.jsonl'), 'utf8');
  const failed = await run(home, ['--type', 'chaos_probe', '--message', 'a line longer than the room that is left'], { script: 'emit-event.sh' });
  assert.notEqual(failed.code, 0, 'emit-event fails on a full disk');
  const after = readFileSync(coord(home, 'pm-activity.jsonl'), 'utf8');
  rmSync(join(mnt, 'filler'));
  const next = await run(home, ['--type', 'chaos_probe', '--message', 'room again'], { script: 'emit-event.sh' });
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(unparsableFiles(home), [], 'every line of pm-activity.jsonl parses once space is back');
  assert.equal(after, before, `a failed append leaves the log as it was (it left ${JSON.stringify(after.slice(before.length))})`);
}));

test('a full disk: the daemon keeps running, corrupts nothing, and recovers when space comes back', { timeout: 90_000 }, (t) => withHome({}, async ({ tracker, startDaemon, defer }) => {
  const mounted = mountTmpfs(t, '4m', { defer, tracker });
  if (mounted === undefined) return;
  const { mnt, home } = mounted;
  mkdirSync(coord(home, 'config'), { recursive: true });
  writeFileSync(
    coord(home, 'config', 'worker-types.json'),
    JSON.stringify({
      worker_types: {
        chatty: { command: fixture('checkin-loop.sh', '0.2'), stop_grace_seconds: 1, restart_backoff_seconds: 0, restart_backoff_max_seconds: 0 },
        ok: { command: fixture('exit-with.sh', '0', '{description}'), stop_grace_seconds: 1, restart_backoff_seconds: 0, restart_backoff_max_seconds: 0 },
      },
    }),
  );
  const chatty = writeQueue(home, [
    { id: 'task-chatty-1', type: 'chatty', description: 'c1' },
    { id: 'task-chatty-2', type: 'chatty', description: 'c2' },
  ]);
  // CHAOS_DISK_LOG_LEVEL=silent keeps the daemon's own log quiet: to look at everything else when the log is at fault.
  const daemon = await startDaemon({ home, env: { PM_LOOP_INTERVAL: '0.2', ...(process.env.CHAOS_DISK_LOG_LEVEL ? { PM_LOG_LEVEL: process.env.CHAOS_DISK_LOG_LEVEL } : {}) } });
  const pid = daemon.child.pid;
  const runningSpec = (workerId) => {
    try {
      const spec = readJson(coord(home, 'worker-specs', 'active', `${workerId}.json`));
      return spec.status === 'running' ? spec : undefined;
    } catch {
      return undefined;
    }
  };
  await waitFor(() => chatty.every(({ workerId }) => runningSpec(workerId) && existsSync(coord(home, 'worker-checkins', `${workerId}.json`))), { what: 'the chatty workers to run and check in' });

  // Two workers that will end while the disk is full (each sleeps its description, in seconds).
  const okTasks = (
    await Promise.all(
      ['2', '2.5'].map(async (seconds) => {
        const created = await run(home, ['create-task', '--description', seconds, '--worker-type', 'ok']);
        assert.equal(created.code, 0, created.stderr);
        return { taskId: created.stdout.trim(), workerId: `worker-ok-${created.stdout.trim().slice(5)}` };
      }),
    )
  );
  // (On a slow machine the first may already have ended before the second starts: then only one ends while full.)
  const okPids = new Map();
  await waitFor(
    () => {
      for (const { workerId } of okTasks) if (runningSpec(workerId)) okPids.set(workerId, runningSpec(workerId).execution.pid);
      return okTasks.every(({ workerId }) => okPids.has(workerId) || existsSync(coord(home, 'worker-specs', 'completed', `${workerId}.json`)));
    },
    { what: 'the ok workers to run', intervalMs: 10 },
  );

  const filler = join(mnt, 'filler');
  const filled = fillDisk(filler);
  const fullSince = Date.now();
  const statfs = defined(spawnSync('df', ['-B1', '--output=avail', mnt], { encoding: 'utf8' }).stdout.trim().split('\n').at(-1), 'the output of df').trim();
  t.diagnostic(`disk filled with ${filled} bytes; available now: ${statfs}`);

  // While full: the daemon lives, every JSON stays whole, and a command fails cleanly, changing nothing.
  // Problems are collected rather than thrown, so that one run says everything that went wrong.
  const problems = [];
  const check = (ok, what) => {
    if (!ok) problems.push(what);
  };
  const queueBefore = readFileSync(coord(home, 'task-queue.json'), 'utf8');
  // The daemon may have freed a block since (a removed exit record, a replaced file): fill what it freed.
  fillDisk(filler);
  const refused = await run(home, ['create-task', '--description', 'no room', '--worker-type', 'ok']);
  check(refused.code !== 0, 'create-task succeeded on a full disk');
  check(refused.stderr.trim().split('\n').length === 1, `create-task on a full disk printed more than one line: ${refused.stderr}`);
  check(readFileSync(coord(home, 'task-queue.json'), 'utf8') === queueBefore, 'a failed create-task changed the queue');
  // Full until both ok workers have ended (their shims could not write an exit record) and a second more.
  let endedAt;
  while (endedAt === undefined || Date.now() - endedAt < 1000) {
    if (endedAt === undefined && [...okPids.values()].every((p) => liveState(p) === undefined)) endedAt = Date.now();
    if (Date.now() - fullSince > 15_000) {
      problems.push('the ok workers did not end within 15 s');
      break;
    }
    if (daemon.child.exitCode !== null || liveState(pid) === undefined) problems.push(`the daemon died while the disk was full: ${daemon.stderr()}`);
    problems.push(...unparsableFiles(home).map((p) => `while full: ${p}`));
    await new Promise((r) => setTimeout(r, 100));
  }

  // Space comes back: the daemon carries on as if nothing happened.
  rmSync(filler);
  const freedAt = Date.now();
  const soon = (fn, what, timeoutMs = 10_000) => waitFor(fn, { what, timeoutMs }).then(() => true, (error) => (problems.push(`after space came back: ${error.message}`), false));
  // Should the daemon not recover at all, the waits after the first would only time out too: skip them.
  const recovered = await soon(() => Date.parse(readJson(coord(home, 'pm-state.json')).pm_daemon.last_loop) > freedAt, 'a pass recorded after space came back');
  check(readJson(coord(home, 'pm-state.json')).pm_daemon.pid === pid, 'pm-state.json names another daemon');
  if (recovered) await soon(() => okTasks.every(({ workerId }) => existsSync(coord(home, 'worker-specs', 'completed', `${workerId}.json`))), 'the ok workers to end in completed/');
  if (recovered) await soon(() => chatty.every(({ workerId }) => runningSpec(workerId) && Date.parse(readJson(coord(home, 'worker-checkins', `${workerId}.json`)).timestamp) > freedAt), 'the chatty workers to check in again', 10_000);
  const after = await run(home, ['create-task', '--description', '0.2', '--worker-type', 'ok']);
  check(after.code === 0, `create-task after space came back: ${after.stderr}`);
  const afterTask = after.stdout.trim();
  if (recovered && after.code === 0) await soon(() => existsSync(coord(home, 'worker-specs', 'completed', `worker-ok-${afterTask.slice(5)}.json`)), 'a task created afterwards to complete');

  // The task is settled just after its spec moves.
  const okIds = [...okTasks.map((x) => x.taskId), ...(after.code === 0 ? [afterTask] : [])];
  if (recovered) await soon(() => okIds.every((id) => readQueue(home).tasks.find((task) => task.task_id === id)?.status === 'completed'), 'the ok tasks to be completed', 5_000);
  const queue = new Map(readQueue(home).tasks.map((task) => [task.task_id, task]));
  const live = workerProcesses(home);
  for (const { workerId } of chatty) {
    const runs = new Set(live.filter((p) => p.workerId === workerId).map((p) => p.runId));
    const recorded = runningSpec(workerId)?.execution.run_id;
    check(runs.size === 1 && runs.has(recorded), `${workerId}: live runs [${[...runs].join(', ')}], its spec records ${recorded}`);
  }
  const located = locateSpecs(home);
  problems.push(...[...located.duplicates, ...unparsableFiles(home), ...taskProblems(home, queue.keys())].map((p) => `after: ${p}`));
  check(liveState(pid) !== undefined && daemon.child.exitCode === null, 'the daemon no longer runs');
  const validate = await run(home, ['validate']);
  check(validate.code === 0, `validate: ${validate.stdout.trim()}`);
  const logSize = (() => {
    try {
      return statSync(join(home, 'agents', 'logs', 'system', 'pm-daemon.log')).size;
    } catch {
      return 0;
    }
  })();
  check(logSize < 1 << 20, `the daemon's own log grew to ${logSize} bytes`);
  const errors = events(home).filter((e) => e.event === 'daemon_error');
  t.diagnostic(`daemon_error events logged: ${errors.length} (${[...new Set(errors.map((e) => e.data.where))].join(', ')})`);
  assert.deepEqual([...new Set(problems)], [], `a full disk went wrong:\n${[...new Set(problems)].join('\n')}\n--- the home:\n${describeHome(home, 30)}`);
}));
