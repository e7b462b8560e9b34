// Chaos: create-task, checkin, cleanup-zombie-workers and archive-failed-workers SIGKILLed mid-run, many
// times, concurrently, on one home: first with no daemon, then with a daemon running. All the while a
// sampler checks that task-queue.json (and every other *.json) parses and that the invariants hold; at the end
// a daemon settles everything and every task, zombie and archived spec must be where it belongs.
//
//   node --test test/chaos/commands-kill.test.js               CI: two phases, each until every command was killed
//                                                               mid-run 3 times (2 s at least, 30 s at most: a loaded machine runs each less often)
//   CHAOS_KILLS=50 CHAOS_PHASE_MS=300000 node --test test/chaos/commands-kill.test.js    a longer run
//   CHAOS_LONG=1 node --test test/chaos/                       the long run of every chaos test (50 kills a phase here)
//
// When to kill: these commands spend their first ~0.5 s loading node modules and touch the home only in
// their last few hundred ms, so a kill "after a random 0–300 ms" would mostly hit module loading. Each
// command's unkilled run time T (the shortest of its last 9) is measured as the test goes (the first run of
// each is never killed), and a run is killed (4 in 5) at a random point of its last 300 ms: uniformly in
// [T − 320, T − 20] ms.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LONG, duplicateRuns, envNumber, locateSpecs, randomInt, readQueue, readSpecAnywhere, sleep, spawnCommand, taskProblems, unparsableFiles, workerProcesses } from './support.js';
import { stopDaemon } from '../helpers/daemon.js';
import { coord, fixtureCommand as fixture, QUICK as quick, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';

// In CI, 2 kills of each command a phase, at most 15 s (the suite must stay under 8 minutes); CHAOS_KILLS,
// CHAOS_PHASE_MS and CHAOS_LONG give the long runs.
const KILLS_PER_PHASE = envNumber('CHAOS_KILLS', LONG ? 50 : 2);
const PHASE_MS = envNumber('CHAOS_PHASE_MS', LONG ? 300_000 : 15_000);
const MIN_PHASE_MS = 2_000;
const KILL_SHARE = 0.8;

const TYPES = {
  chatty: { command: fixture('checkin-loop.sh', '0.3'), ...quick },
  quick: { command: fixture('exit-with.sh', '0', '0.1'), ...quick },
  doomed: { command: fixture('exit-with.sh', '1', '0.1'), ...quick, max_restarts: 0 },
  zomb: { command: fixture('exit-with.sh', '1'), ...quick, max_restarts: 0 },
};
// Failed by cleanup-zombie-workers (the runbook's words), or by the daemon ("zombie: …; gave up after …").
const ZOMBIE_ERROR = 'Zombie worker - no process found';

const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const iso = () => new Date().toISOString();

/** Writes a file the way an operator's tool would: temp name not ending in .json, then rename. */
function writeAtomically(file, value) {
  const temp = `${file}.tmp-test`;
  writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(temp, file);
}

/** A running spec whose process is gone with no exit recorded: what a worker killed with kill -9 leaves. */
function fabricateZombie(home, n) {
  const deadPid = spawnSync('true').pid;
  const id = `worker-zomb-${n}`;
  writeAtomically(coord(home, 'worker-specs', 'active', `${id}.json`), {
    worker_id: id,
    worker_type: 'zomb',
    task_id: null,
    status: 'running',
    created_at: iso(),
    task: { description: `zombie ${n}` },
    execution: { started_at: iso(), completed_at: null, pid: deadPid, process_start_ticks: 1, boot_id: bootId, run_id: `run-fake-${n}`, restart_count: 0, exit_code: null, signal: null },
    error: null,
  });
  return id;
}

/** A spec as a failed worker leaves it in failed/. */
function fabricateFailed(home, n) {
  const id = `worker-gone-${n}`;
  writeAtomically(coord(home, 'worker-specs', 'failed', `${id}.json`), {
    worker_id: id,
    worker_type: 'doomed',
    task_id: null,
    status: 'failed',
    created_at: iso(),
    task: { description: `failed ${n}` },
    execution: { started_at: iso(), completed_at: iso(), pid: null, restart_count: 0, exit_code: 1, signal: null },
    error: 'exited with code 1',
  });
  return id;
}

/** Runs one command over and over until ctl.stop, killing most runs at a random point of their last 300 ms. */
/**
 * @param {{ home: string, tracker: import('../helpers/processes.js').ProcessTracker }} scope
 * @param {string} name @param {() => string[]}  argsOf
 * @param {{ script?: string, onSuccess?: (result: any) => void, stats: Record<string, any>, ctl: { stop: boolean } }} options
 */
function commandLoop({ home, tracker }, name, argsOf, { script, onSuccess, stats, ctl }) {
  const durations = [];
  stats[name] = { runs: 0, killed: 0, killedAfterEnd: 0, failed: [] };
  return (async () => {
    while (!ctl.stop) {
      // The shortest recent run: load varies, and a kill planned after the run's end tests nothing.
      const typical = durations.length === 0 ? undefined : Math.min(...durations);
      const kill = typical !== undefined && Math.random() < KILL_SHARE;
      const { child, done } = spawnCommand(home, argsOf(), { script, tracker });
      stats[name].runs += 1;
      let timer;
      if (kill) {
        timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGKILL');
            stats[name].killed += 1;
          }
        }, randomInt(Math.max(0, Math.round(typical) - 320), Math.round(typical) - 20));
      }
      const result = await done;
      clearTimeout(timer);
      if (kill && result.signal !== 'SIGKILL') stats[name].killedAfterEnd += 1;
      if (result.signal === 'SIGKILL') continue;
      if (result.code === 0) {
        durations.push(result.ms);
        if (durations.length > 9) durations.shift();
        onSuccess?.(result);
      } else stats[name].failed.push(`${name} exited ${result.code}: ${result.stderr.trim()}`);
      await sleep(randomInt(0, 100));
    }
  })();
}

test('create-task, checkin, cleanup-zombie-workers and archive-failed-workers killed mid-run leave every file whole and nothing lost', { timeout: 120_000 + PHASE_MS * 2 }, (t) => withHome({ types: TYPES, daemonConfig: { max_concurrent_workers: 32 } }, async ({ home, tracker, startDaemon }) => {
  for (const folder of ['active', 'completed', 'failed', 'archived']) mkdirSync(coord(home, 'worker-specs', folder), { recursive: true });
  const env = { PM_LOOP_INTERVAL: '0.2' };

  // Two long-running workers to check in for, started by start-worker.sh from pending specs.
  const chatty = ['worker-chatty-1', 'worker-chatty-2'];
  for (const id of chatty) {
    writeAtomically(coord(home, 'worker-specs', 'active', `${id}.json`), { worker_id: id, worker_type: 'chatty', task_id: null, status: 'pending', created_at: iso(), task: { description: 'chatty' }, error: null });
    const started = await run(home, ['--spec', coord(home, 'worker-specs', 'active', `${id}.json`)], { script: 'start-worker.sh' });
    assert.equal(started.code, 0, started.stderr);
  }

  const created = new Map();
  const fabricatedZombies = new Set();
  const fabricatedFailed = new Set();
  const seenSpecs = new Set();
  const violations = [];
  const stats = {};
  const ctl = { stop: false };
  let n = 0;

  // Fodder: zombies for cleanup, failed specs for archive, replenished as they are consumed.
  const fodder = (async () => {
    while (!ctl.stop) {
      n += 1;
      fabricatedZombies.add(fabricateZombie(home, n));
      fabricatedFailed.add(fabricateFailed(home, n));
      await sleep(randomInt(200, 500));
    }
  })();

  // The sampler: the queue always parses (read every 10 ms); the other invariants every ~500 ms (a scan of
  // /proc is not free, and this process's event loop also times the kills).
  let samples = 0;
  let queueReads = 0;
  const sampler = (async () => {
    let last = 0;
    while (!ctl.stop) {
      try {
        readQueue(home);
        queueReads += 1;
      } catch (error) {
        violations.push(`task-queue.json does not parse: ${error.message}`);
      }
      if (Date.now() - last > 500) {
        last = Date.now();
        samples += 1;
        const found = [...unparsableFiles(home)];
        const located = locateSpecs(home, seenSpecs);
        for (const id of located.flow.keys()) seenSpecs.add(id);
        found.push(...located.duplicates, ...located.missing, ...duplicateRuns(home), ...taskProblems(home, created.keys()));
        for (const v of found) violations.push(`sample ${samples}: ${v}`);
      }
      await sleep(10);
    }
  })();

  const loops = [
    commandLoop({ home, tracker }, 'create-task', () => ['--description', `chaos ${randomInt(0, 1e6)}`, '--worker-type', Math.random() < 0.5 ? 'quick' : 'doomed'], {
      script: 'create-task.sh',
      stats,
      ctl,
      onSuccess: (r) => created.set(r.stdout.trim(), null),
    }),
    commandLoop({ home, tracker }, 'checkin', () => ['--worker-id', chatty[randomInt(0, 1)], '--progress', String(randomInt(0, 100)), '--message', 'chaos'], { script: 'checkin.sh', stats, ctl }),
    commandLoop({ home, tracker }, 'cleanup-zombie-workers', () => [], { script: 'cleanup-zombie-workers.sh', stats, ctl }),
    commandLoop({ home, tracker }, 'archive-failed-workers', () => [], { script: 'archive-failed-workers.sh', stats, ctl }),
  ];

  // Phase A: no daemon. Phase B: a daemon runs too (and races cleanup for the zombies). Each phase lasts
  // until every command was killed mid-run KILLS_PER_PHASE times (within MIN_PHASE_MS..PHASE_MS).
  const phase = async () => {
    const start = Date.now();
    const before = Object.fromEntries(Object.entries(stats).map(([name, s]) => [name, s.killed]));
    await waitFor(() => Date.now() - start >= MIN_PHASE_MS && Object.entries(stats).every(([name, s]) => s.killed - before[name] >= KILLS_PER_PHASE), {
      what: 'the phase',
      timeoutMs: PHASE_MS,
      intervalMs: 100,
    }).catch(() => undefined);
  };
  // Whatever fails in between, the loops stop (else they would go on forking commands after the test).
  let daemon;
  try {
    await phase();
    daemon = await startDaemon({ env });
    await phase();
  } finally {
    ctl.stop = true;
    await Promise.all([...loops, fodder, sampler]);
  }

  // The daemon settles: no task queued, nothing left in active/ but the two chatty workers.
  const queueTypes = () => new Map(readQueue(home).tasks.map((task) => [task.task_id, task]));
  const settled = waitFor(
    () => {
      const tasks = queueTypes();
      if ([...tasks.values()].some((task) => task.status === 'queued')) return false;
      // A task is settled just after its spec moves.
      if ([...created.keys()].some((id) => !['completed', 'failed'].includes(tasks.get(id)?.status))) return false;
      const active = readdirSync(coord(home, 'worker-specs', 'active')).filter((f) => f.endsWith('.json'));
      return active.length === chatty.length;
    },
    { what: 'the daemon to settle', timeoutMs: 30_000, intervalMs: 100 },
  );
  await settled.catch((error) => violations.push(`final: ${error.message}: active/ holds ${readdirSync(coord(home, 'worker-specs', 'active')).join(', ')}`));

  // Final invariants.
  violations.push(...unparsableFiles(home).map((v) => `final: ${v}`));
  const located = locateSpecs(home, seenSpecs);
  violations.push(...[...located.duplicates, ...located.missing, ...duplicateRuns(home), ...taskProblems(home, created.keys())].map((v) => `final: ${v}`));
  const tasks = queueTypes();
  for (const taskId of created.keys()) {
    const task = tasks.get(taskId);
    const found = task?.worker_id ? readSpecAnywhere(home, task.worker_id) : undefined;
    if (found === undefined) {
      violations.push(`final: task ${taskId} is ${task?.status} and has no spec`);
      continue;
    }
    const expected = task.worker_type === 'quick' ? { status: 'completed', places: /^completed$/ } : { status: 'failed', places: /^(failed|archived\/.*)$/ };
    if (task.status !== expected.status) violations.push(`final: ${task.worker_type} task ${taskId} is ${task.status}, expected ${expected.status} (its spec is in ${found.place}/)`);
    if (!expected.places.test(found.place) || found.spec.status !== expected.status) violations.push(`final: ${task.worker_type} worker ${task.worker_id} is ${found.spec.status} in ${found.place}/`);
  }
  for (const id of fabricatedZombies) {
    const found = readSpecAnywhere(home, id);
    if (found === undefined) violations.push(`final: zombie ${id} has no spec`);
    else if (!/^(failed|archived\/.*)$/.test(found.place) || found.spec.status !== 'failed' || !(found.spec.error === ZOMBIE_ERROR || /^zombie: /.test(found.spec.error ?? ''))) {
      violations.push(`final: zombie ${id} is ${found.spec.status} in ${found.place}/ with error ${JSON.stringify(found.spec.error)}`);
    }
  }
  for (const id of fabricatedFailed) {
    const found = readSpecAnywhere(home, id);
    if (found === undefined || !/^(failed|archived\/.*)$/.test(found.place)) violations.push(`final: failed spec ${id} is in ${found?.place ?? 'no folder'}`);
  }
  // Every archived batch that holds specs has a manifest listing them (it is written before the first move).
  const archived = coord(home, 'worker-specs', 'archived');
  let batches = 0;
  let manifestsInProgress = 0;
  for (const batch of readdirSync(archived)) {
    const specs = readdirSync(join(archived, batch)).filter((f) => f.endsWith('.json') && f !== 'MANIFEST.json');
    if (batch.startsWith('superseded-')) continue;
    batches += 1;
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(archived, batch, 'MANIFEST.json'), 'utf8'));
    } catch (error) {
      if (specs.length > 0) violations.push(`final: archived/${batch} holds ${specs.length} specs but no readable MANIFEST.json (${error.message})`);
      continue;
    }
    if (manifest.status !== 'complete') manifestsInProgress += 1;
    for (const f of specs) if (!manifest.worker_ids.includes(f.slice(0, -5))) violations.push(`final: archived/${batch}/${f} is not in its MANIFEST.json`);
  }
  // The chatty workers still run, once each, as their specs record.
  const live = workerProcesses(home);
  for (const id of chatty) {
    const found = readSpecAnywhere(home, id);
    const runs = new Set(live.filter((p) => p.workerId === id).map((p) => p.runId));
    if (found?.place !== 'active' || runs.size !== 1 || !runs.has(found.spec.execution?.run_id)) violations.push(`final: chatty ${id} in ${found?.place}: live runs ${[...runs].join(', ')}, spec records ${found?.spec.execution?.run_id}`);
  }
  const validate = await run(home, ['validate']);
  if (validate.code !== 0) violations.push(`final: validate exited ${validate.code}: ${validate.stdout.trim()}`);
  await stopDaemon(daemon);

  const leftovers = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (entry.name !== '.locks') walk(join(dir, entry.name));
      } else if (!/\.jsonl?$/.test(entry.name)) leftovers.push(entry.name);
    }
  };
  walk(coord(home));
  const summary = Object.entries(stats).map(([name, s]) => `${name}: ${s.runs} runs, ${s.killed} killed mid-run (${s.killedAfterEnd} had ended before their kill)`);
  t.diagnostic(`${summary.join('; ')}; ${created.size} tasks created; ${n} zombies and ${n} failed specs fabricated; ${batches} archive batches (${manifestsInProgress} left in_progress by a kill); ${samples} invariant samples, ${queueReads} queue reads; temp files left: ${leftovers.length} (${[...new Set(leftovers.map((f) => f.replace(/[0-9a-f-]{6,}$|\d+$/g, '…')))].slice(0, 5).join(', ')})`);
  const failures = Object.values(stats).flatMap((s) => s.failed);
  assert.deepEqual(failures.filter((f) => !/LOCK_HELD|held by another process/.test(f)), [], 'a command run to its end failed');
  assert.ok(Object.values(stats).every((s) => s.killed >= 1), `every command was killed mid-run: ${summary.join('; ')}`);
  assert.deepEqual(violations, [], `invariant violations:\n${violations.join('\n')}`);
}));
