// Chaos: the daemon SIGKILLed at random moments, over and over, on one home, while tasks are created and
// workers crash, check in and finish. After every kill the home must hold its invariants; at the end a last
// daemon runs to quiescence and every worker must have its true end state.
//
//   node --test test/chaos/daemon-kill.test.js                 CI: 12 kills, 16 tasks (~20 s on 2 cores: each daemon
//                                                               spends ~0.6 s of CPU loading before it can be killed)
//   CHAOS_ROUNDS=200 CHAOS_TASKS=80 node --test test/chaos/daemon-kill.test.js     a longer run
//   CHAOS_LONG=1 node --test test/chaos/                       the long run of every chaos test (200 kills here)
//   CHAOS_DEBUG=1 …                                            prints how long each round took to claim, run and check
//
// Each round starts a daemon (PM_LOOP_INTERVAL 0.1), waits until it has claimed the home (pm-daemon.pid.json
// names it: loading the CLI alone takes ~0.6 s, and a kill before that tests nothing), lets it run a random
// 50–400 ms, and SIGKILLs it; the next one is already loading by then (it can only claim the home once this one
// is dead). The invariants are checked after every kill; the run fails listing every violation, each once,
// with the round it was first seen in.
//
// Why 12 kills in CI (it was 50, then 20): the kill points this test found to matter (a spec moved before its task
// was settled, a final spec written but not moved, a spec started before its task was assigned, a spawn not
// yet recorded, events not yet logged) are each pinned by a deterministic test in kill-points.test.js and
// logged-once.test.js, which fail the same way every time. What the random kills add is the unforeseen
// point; 12 kills, each at a random 50–400 ms of a pass every 100 ms, still land in every phase of a pass
// (dispatch, spawn, check, move, settle), and the invariants are checked after each. Each extra round costs
// ~2 s of every CI run (the suite must stay under 8 minutes); CHAOS_ROUNDS and CHAOS_LONG (200 kills) keep the long runs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { LONG, duplicateRuns, envNumber, eventLogProblems, locateSpecs, randomInt, readQueue, readSpecAnywhere, runsLogged, sleep, spawnCommand, taskProblems, unparsableFiles, workerProcesses } from './support.js';
import { daemonClaimed, stopDaemon } from '../helpers/daemon.js';
import { fixtureCommand as fixture, QUICK as quick, run, SCRIPTS, waitFor } from '../helpers/home.js';
import { envOf, isAlive, pidsWithEnv } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';

const ROUNDS = envNumber('CHAOS_ROUNDS', LONG ? 200 : 12);
const TASKS = envNumber('CHAOS_TASKS', LONG ? 80 : 16);
const MAX_CHATTY = 3;

const TYPES = {
  ok: { command: fixture('exit-with.sh', '0', '0.3'), ...quick },
  crash: { command: fixture('exit-with.sh', '3', '0.2'), ...quick, max_restarts: 1 },
  flaky: { command: fixture('crash-once.sh'), ...quick, max_restarts: 2 },
  talker: { command: fixture('checkin-then-exit.sh', join(SCRIPTS, 'checkin.sh'), '2', '0.1', '0'), ...quick },
  chatty: { command: fixture('checkin-loop.sh', '0.1'), ...quick },
};
/** What each type's run ends as, and how many runs that takes. */
const EXPECTED = {
  ok: { folder: 'completed', status: 'completed', exit_code: 0, runs: 1, task: 'completed' },
  talker: { folder: 'completed', status: 'completed', exit_code: 0, runs: 1, task: 'completed' },
  flaky: { folder: 'completed', status: 'completed', exit_code: 0, runs: 2, task: 'completed' },
  crash: { folder: 'failed', status: 'failed', exit_code: 3, runs: 2, task: 'failed' },
  chatty: { folder: 'active', status: 'running', exit_code: null, runs: 1, task: 'assigned' },
};
const WEIGHTED = ['ok', 'ok', 'ok', 'crash', 'crash', 'flaky', 'flaky', 'talker', 'talker', 'chatty'];

/** The worker a task's spec is for (src/core/dispatch.ts workerIdForTask): found even when the task does not name it. */
const workerOf = (taskId, type) => `worker-${type}-${taskId.slice(5)}`;

/** Creates tasks one after another with create-task until told to stop; returns the ids it saw printed, by type. */
function startTaskCreator({ home, tracker }, state) {
  const created = new Map();
  let chatty = 0;
  const loop = (async () => {
    while (!state.stop && created.size < TASKS) {
      let type = WEIGHTED[randomInt(0, WEIGHTED.length - 1)];
      if (type === 'chatty' && chatty >= MAX_CHATTY) type = 'ok';
      const { done } = spawnCommand(home, ['create-task', '--description', `chaos ${type} ${created.size}`, '--worker-type', type, '--priority', ['low', 'medium', 'high'][randomInt(0, 2)]], { tracker });
      const result = await done;
      if (result.code !== 0) {
        state.errors.push(`create-task exited ${result.code}: ${result.stderr.trim()}`);
        continue;
      }
      const id = result.stdout.trim();
      created.set(id, type);
      if (type === 'chatty') chatty += 1;
      await sleep(randomInt(100, 500));
    }
  })();
  return { created, loop };
}

/** Invariants that hold after any kill: returns the violations found. */
function roundViolations(home, created, seenSpecs) {
  const problems = [...unparsableFiles(home)];
  const located = locateSpecs(home, seenSpecs);
  problems.push(...located.duplicates, ...located.missing);
  for (const id of located.flow.keys()) seenSpecs.add(id);
  problems.push(...duplicateRuns(home));
  problems.push(...taskProblems(home, created.keys()));
  return problems;
}

test(`the daemon SIGKILLed ${ROUNDS} times at random moments loses, duplicates and corrupts nothing`, { timeout: 60_000 + ROUNDS * 4_000 }, (t) => withHome({ types: TYPES, daemonConfig: { max_concurrent_workers: 64 } }, async ({ home, tracker, startDaemon, spawnDaemon }) => {
  const env = { PM_LOOP_INTERVAL: '0.1' };
  const state = { stop: false, errors: [] };
  const creator = startTaskCreator({ home, tracker }, state);
  const seenSpecs = new Set();
  // A violation that persists is reported once, with the round it was first seen in.
  const violations = [];
  const firstSeen = new Map();
  const note = (round, v) => {
    if (!firstSeen.has(v)) {
      firstSeen.set(v, round);
      violations.push(`round ${round}: ${v}`);
    }
  };
  const started = performance.now();
  let selfExits = 0;

  // The next daemon is spawned as soon as the current one has claimed the home, so that loading it (most of
  // a round) overlaps the current one's run; it cannot act before it claims the home, which it can only do
  // once the current one is dead. Should it get there first, it is refused (DAEMON_RUNNING) and replaced.
  let refused = 0;
  const claimed = async (round, daemon) => {
    for (;;) {
      await waitFor(() => daemon.child.exitCode !== null || daemonClaimed(home, daemon.child.pid), { what: `daemon ${round} to claim the home`, timeoutMs: 20_000, intervalMs: 5 });
      if (daemon.child.exitCode === null) return daemon;
      await daemon.exited;
      if (!/DAEMON_RUNNING|already runs/.test(daemon.stderr())) {
        selfExits += 1;
        violations.push(`round ${round}: the daemon exited on its own (${daemon.child.exitCode}) before it was killed: ${daemon.stderr().trim().split('\n').pop()}`);
      } else refused += 1;
      daemon = spawnDaemon({ env });
    }
  };
  /** @type {import('../helpers/daemon.js').DaemonProcess | undefined} */
  let next = spawnDaemon({ env });
  for (let round = 1; round <= ROUNDS; round += 1) {
    const t0 = performance.now();
    const daemon = await claimed(round, next);
    const t1 = performance.now();
    next = round < ROUNDS ? spawnDaemon({ env }) : undefined;
    await sleep(randomInt(50, 400));
    if (daemon.child.exitCode !== null) violations.push(`round ${round}: the daemon exited on its own (${daemon.child.exitCode}): ${daemon.stderr().trim().split('\n').pop()}`);
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    const t2 = performance.now();
    for (const v of roundViolations(home, creator.created, seenSpecs)) note(round, v);
    if (process.env.CHAOS_DEBUG) console.error(`round ${round}: claim ${Math.round(t1 - t0)} ms, run+kill ${Math.round(t2 - t1)} ms, checks ${Math.round(performance.now() - t2)} ms`);
  }
  const chaosMs = performance.now() - started;

  state.stop = true;
  await creator.loop;
  const created = creator.created;

  // A last daemon runs until everything settles: no task queued, only the chatty workers left in active/.
  const final = await startDaemon({ env });
  const settled = waitFor(
    () => {
      const queue = readQueue(home);
      if (queue.tasks.some((task) => task.status === 'queued')) return false;
      for (const [taskId, type] of created) {
        const found = readSpecAnywhere(home, workerOf(taskId, type));
        if (found === undefined) return false;
        // A finished status left in active/ would never move on: not worth waiting for (the checks below report it).
        const unfinished = found.place === 'active' && (found.spec.status === 'pending' || found.spec.status === 'running');
        if (type === 'chatty' ? found.spec.status !== 'running' || !isAlive(found.spec.execution.pid) : unfinished) return false;
        // A spec in completed/ or failed/ settles its task an instant later (after its lock, by design): wait for that too.
        if (found.place !== 'active' && queue.tasks.find((task) => task.task_id === taskId)?.status === 'assigned') return false;
      }
      return true;
    },
    { what: 'the last daemon to settle every task', timeoutMs: 30_000, intervalMs: 100 },
  );
  // Not settling is itself a violation; the checks below then say which worker or task is stuck.
  await settled.catch((error) => violations.push(`final: ${error.message}`));
  // What a stuck worker's recorded process is, for the report (a live standby that was never told go, say).
  if (violations.length > 0) {
    for (const [taskId, type] of created) {
      const id = workerOf(taskId, type);
      const found = readSpecAnywhere(home, id);
      if (found?.place !== 'active') continue;
      const e = found.spec.execution ?? {};
      const env = e.pid === null || e.pid === undefined ? undefined : envOf(e.pid);
      const procs = pidsWithEnv('WORKER_ID', id).map((pid) => `${pid}${envOf(pid)?.COMMIT_RELAY_STANDBY === '1' ? ' (started as a standby)' : ''} run ${envOf(pid)?.COMMIT_RELAY_RUN_ID}`);
      t.diagnostic(`unsettled ${id}: ${found.spec.status} run ${e.run_id} pid ${e.pid} ${env === undefined ? 'gone' : `alive (run ${env.COMMIT_RELAY_RUN_ID}${env.COMMIT_RELAY_STANDBY === '1' ? ', started as a standby' : ''})`}; processes: ${procs.join(', ') || 'none'}`);
    }
  }

  // Final invariants, with the daemon still running: every worker has its true end state.
  const { flow: placesOf } = locateSpecs(home);
  for (const v of roundViolations(home, created, seenSpecs)) if (!firstSeen.has(v)) violations.push(`final: ${v}`);
  const queue = readQueue(home);
  const extraRuns = [];
  const live = workerProcesses(home);
  for (const [taskId, type] of created) {
    const expected = EXPECTED[type];
    const task = queue.tasks.find((x) => x.task_id === taskId);
    const workerId = workerOf(taskId, type);
    const found = readSpecAnywhere(home, workerId);
    if (found === undefined) {
      violations.push(`final: task ${taskId} (${type}) is ${task?.status ?? 'missing'} and its worker ${workerId} has no spec`);
      continue;
    }
    if (task !== undefined && task.worker_id !== workerId) violations.push(`final: task ${taskId} (${type}, ${task.status}) names worker ${task.worker_id}, not ${workerId}`);
    const { place, spec } = found;
    const e = spec.execution;
    const where = `final: ${type} worker ${workerId}`;
    if (place !== expected.folder) violations.push(`${where} is in ${place}/, expected ${expected.folder}/ (status ${spec.status}, exit_code ${e.exit_code}, error ${JSON.stringify(spec.error)})`);
    if (spec.status !== expected.status) violations.push(`${where} has status ${spec.status}, expected ${expected.status}`);
    if (type !== 'chatty' && (e.exit_code !== expected.exit_code || e.signal !== null)) violations.push(`${where} records exit_code ${e.exit_code} signal ${e.signal}, expected exit_code ${expected.exit_code} and no signal`);
    if (task?.status !== expected.task) violations.push(`final: task ${taskId} (${type}) is ${task?.status}, expected ${expected.task} (its spec is in ${place}/)`);
    if (type === 'crash' && spec.error !== null && !/exited with code 3/.test(spec.error)) violations.push(`${where} says ${JSON.stringify(spec.error)}`);
    if (type === 'chatty') {
      const runs = new Set(live.filter((p) => p.workerId === workerId).map((p) => p.runId));
      if (runs.size !== 1 || !runs.has(e.run_id)) violations.push(`${where}: live runs ${[...runs].join(', ') || 'none'}, the spec records ${e.run_id}`);
    }
    const logged = runsLogged(home, workerId);
    if (logged.length > expected.runs) extraRuns.push(`${type} worker ${workerId}: ${logged.length} processes started, ${expected.runs} expected`);
  }
  // Nothing runs that its spec does not record.
  const liveRuns = new Map(live.map((p) => [`${p.workerId} ${p.runId}`, p]));
  for (const p of liveRuns.values()) {
    const found = readSpecAnywhere(home, p.workerId);
    if (found?.place !== 'active' || found.spec.execution?.run_id !== p.runId) violations.push(`final: worker ${p.workerId} has a live run ${p.runId} (process group ${p.pgrp}) that its spec does not record (an orphan run)`);
  }
  for (const [id, places] of placesOf) if (places.length !== 1) violations.push(`final: spec ${id} in ${places.join(', ')}`);
  const validate = await run(home, ['validate']);
  if (validate.code !== 0) violations.push(`final: validate exited ${validate.code}: ${validate.stdout.trim()}`);
  await stopDaemon(final);
  // Each change logged once across all those kills: nothing lost between a change and its event, nothing twice.
  for (const problem of eventLogProblems(home)) violations.push(`final: ${problem}`);

  t.diagnostic(`${ROUNDS} kills in ${(chaosMs / 1000).toFixed(1)} s; ${created.size} tasks (${[...new Set(created.values())].map((type) => `${[...created.values()].filter((x) => x === type).length} ${type}`).join(', ')}); daemons that exited on their own: ${selfExits}; refused because the previous one still ran: ${refused}`);
  if (extraRuns.length > 0) t.diagnostic(`workers started more often than their runs need (a start the killed daemon never recorded): ${extraRuns.join('; ')}`);
  assert.deepEqual(state.errors, [], 'create-task failed');
  assert.deepEqual(violations, [], `invariant violations:\n${violations.join('\n')}`);
  // A daemon killed between a spawn and its record leaves a launch its successor stops and starts anew
  // (launching_run_id): the work may be redone, but never by two runs at once (the invariants above).
  // Adopting such a launch instead would save the repeat; until then it is reported, not failed.
}));
