// Chaos: operators' hand edits while the daemon runs. A real daemon (a pass every 0.2 s) supervises a small
// fleet of real workers (chatty check-in loops, workers that crash and are restarted, workers that finish),
// while one loop performs, at random moments, the runbook's procedures exactly as written (seeds/004,
// "Runbook: Worker Failure"; test/fixtures/runbook-*.sh are verbatim copies, only WORKER_ID substituted,
// run with bash from the project root and COMMIT_RELAY_HOME set):
//   A  Restart Stalled Worker (ps | grep | kill, jq status=pending, start-worker.sh)
//   B  Clean Up Zombie Worker (a worker's whole group SIGKILLed first; then mv to failed/, jq, jq on
//      pm-state.json, emit-event.sh), or its script form cleanup-zombie-workers.sh ID
//   D  Force Fail Worker (pkill -f, jq, mv into failed/), or its script form fail-worker.sh ID
// plus, once, a hostile edit: a stranger's pid (a process of ours unrelated to the home) written into a
// running spec with jq, followed by a procedure on that worker.
// Sampled all along (every ~100 ms) and at the end:
//   - no worker runs twice: a worker id with two live runs for longer than the stop grace plus a pass (and
//     room for a loaded machine) is a violation;
//   - the stranger is never signalled;
//   - every file under coordination/ parses; each spec is in one folder at most;
//   - no task lost (taskProblems).
// At the end: validate exits 0 (warnings allowed), every live worker process is the run its spec in active/
// records (no orphan run), no event logged twice and each finished worker's end logged once (workers an
// operator moved by hand excepted: the runbook logs no worker_failed for them).
//
// Procedures are run one at a time (one operator); each takes 0.5-5 s on a loaded 2-core machine (ps aux,
// jq, a node command), so the CI run makes about 6 edits. They are drawn from a bag of A, B and D refilled
// (shuffled) when empty, and the edits go on past EDIT_MS until each of A, B and D was performed at least
// once: a short run still covers every procedure (a random pick of 6 missed one ~1 time in 6).
// CHAOS_HAND_TRACE=1 prints each edit's outcome.
//
//   node --test test/chaos/hand-edits.test.js                 CI: 8 s of edits (about 20 s in all)
//   CHAOS_HAND_MS=120000 node --test test/chaos/hand-edits.test.js        a longer run
//   CHAOS_LONG=1 node --test test/chaos/                      the long run of every chaos test (5 minutes here)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  LONG,
  describeHome,
  duplicateRuns,
  envNumber,
  eventLogProblems,
  locateSpecs,
  randomInt,
  readQueue,
  readSpecAnywhere,
  sleep,
  taskProblems,
  unparsableFiles,
  workerProcesses,
} from './support.js';
import { coord, defined, FIXTURES, fixtureCommand as fixture, QUICK as quick, ROOT, run, waitFor, JQ_SKIP } from '../helpers/home.js';
import { isLive, spawnUnrelated } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';


const EDIT_MS = envNumber('CHAOS_HAND_MS', LONG ? 300_000 : 8_000);
const LOOP_S = 0.2;
const STOP_GRACE_S = 1;
// Two live runs of one worker may overlap while the daemon stops the old one (TERM, the grace, KILL) and a
// pass notices; longer than the grace plus a pass is a violation. The rest is room for a loaded 2-core box.
const OVERLAP_LIMIT_MS = (STOP_GRACE_S + LOOP_S) * 1000 + 2_000;

// None of the commands puts {worker_id} in its argv: `ps aux | grep ID` (procedure A) finds the shim alone.
const TYPES = {
  chatty: { command: fixture('checkin-loop.sh', '0.2'), ...quick, max_restarts: 1000 },
  crashy: { command: fixture('exit-with.sh', '1', '0.8'), ...quick, max_restarts: 1000 },
  finisher: { command: fixture('exit-with.sh', '0', '2'), ...quick },
};
const FLEET = { chatty: 4, crashy: 2, finisher: 2 };

/** A runbook procedure as written (test/fixtures/runbook-<name>.sh), WORKER_ID substituted. */
function procedureText(name, workerId) {
  const text = readFileSync(join(FIXTURES, `runbook-${name}.sh`), 'utf8');
  assert.match(text, /^WORKER_ID="worker-implementation-001"$/m);
  return text.replace(/^WORKER_ID="worker-implementation-001"$/m, `WORKER_ID="${workerId}"`);
}

/**
 * Runs shell text with bash from the project root, as an operator would. From a file, not `bash -c TEXT`:
 * the shell must not carry the worker id in its own argv (pkill -f and ps | grep would find it).
 * @param {{ home: string, tracker: import('../helpers/processes.js').ProcessTracker }} scope
 * @param {string} text
 * @returns {Promise<{ code: number, stdout: string, stderr: string }>}
 */
function operator({ home, tracker }, text) {
  const file = join(home, 'operator-procedure.sh');
  writeFileSync(file, text);
  return new Promise((resolve) => {
    const child = execFile('bash', [file], { cwd: ROOT, env: { ...process.env, COMMIT_RELAY_HOME: home, NO_COLOR: '1' }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    tracker.pid(child.pid);
  });
}

/** The running specs in active/ (of a type, if given): [{ id, spec }]. */
function runningWorkers(home, type) {
  const out = [];
  for (const id of locateSpecs(home).flow.keys()) {
    const found = readSpecAnywhere(home, id);
    if (found?.place !== 'active' || found.spec.status !== 'running' || !found.spec.execution.pid) continue;
    if (type !== undefined && found.spec.worker_type !== type) continue;
    out.push({ id, spec: found.spec });
  }
  return out;
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

/** Live worker processes whose run is not the one their spec in active/ records as running. */
function unrecordedRuns(home) {
  const problems = [];
  const seen = new Set();
  for (const p of workerProcesses(home)) {
    if (seen.has(`${p.workerId} ${p.runId}`)) continue;
    seen.add(`${p.workerId} ${p.runId}`);
    const found = readSpecAnywhere(home, p.workerId);
    const e = found?.spec.execution;
    if (found?.place === 'active' && found.spec.status === 'running' && e?.run_id === p.runId) continue;
    // A launch under way: its token is recorded before the spawn (launching_run_id), its run just after.
    if (found?.place === 'active' && e?.launching_run_id === p.runId) continue;
    // Re-check: the run may have just ended, or been recorded since.
    if (!workerProcesses(home).some((q) => q.workerId === p.workerId && q.runId === p.runId)) continue;
    const again = readSpecAnywhere(home, p.workerId);
    if (again?.place === 'active' && again.spec.status === 'running' && again.spec.execution?.run_id === p.runId) continue;
    problems.push(`worker ${p.workerId}: live run ${p.runId} (process group ${p.pgrp}) is not recorded: its spec is ${found ? `in ${found.place}/, status ${found.spec.status}, run ${e?.run_id}, pid ${e?.pid}` : 'nowhere'}`);
  }
  return problems;
}

test(`operators' hand edits (runbook A, B, D) for ${EDIT_MS / 1000} s while the daemon runs: no worker twice, no stranger signalled, every file whole`, { skip: JQ_SKIP, timeout: EDIT_MS + 90_000 }, (t) =>
  withHome({ types: TYPES, daemonConfig: { max_concurrent_workers: 16 } }, async (scope) => {
    const { home, tracker, startDaemon } = scope;
    const created = [];
    const createTask = async (type) => {
      const result = await run(home, ['create-task', '--description', `${type} work`, '--worker-type', type]);
      assert.equal(result.code, 0, result.stderr);
      created.push(result.stdout.trim());
    };
    await Promise.all(Object.entries(FLEET).flatMap(([type, n]) => Array.from({ length: n }, () => createTask(type))));
    const daemon = await startDaemon({ env: { PM_LOOP_INTERVAL: String(LOOP_S) } });
    await waitFor(() => runningWorkers(home, 'chatty').length === FLEET.chatty, { what: 'the chatty workers to run', timeoutMs: 20_000 });

    const stranger = spawnUnrelated(tracker);
    /** @type {string[]} */
    const problems = [];
    const problem = (what) => {
      if (!problems.includes(what)) problems.push(what);
    };
    /** Workers whose spec an operator moved to failed/ by hand (the runbook logs no worker_failed for them). */
    const movedByHand = new Set();
    /** @type {Record<string, number[]>} */
    const stats = { A: [], B: [], 'B-script': [], D: [], 'D-script': [], stranger: [] };
    const ctl = { stop: false, edit: 'none' };

    // The sampler: every ~100 ms, the invariants that must hold at every instant.
    const overlapsSince = new Map();
    let samples = 0;
    const sampler = (async () => {
      while (!ctl.stop) {
        samples += 1;
        const now = Date.now();
        const dups = duplicateRuns(home);
        for (const d of dups) if (!overlapsSince.has(d)) overlapsSince.set(d, { since: now, edit: ctl.edit });
        for (const [d, { since, edit }] of overlapsSince) {
          if (!dups.includes(d)) overlapsSince.delete(d);
          else if (now - since > OVERLAP_LIMIT_MS) problem(`for more than ${OVERLAP_LIMIT_MS} ms (since the edit "${edit}"): ${d}`);
        }
        if (!isLive(stranger)) problem(`the stranger (pid ${stranger}) is gone: it was signalled (last edit "${ctl.edit}")`);
        for (const p of unparsableFiles(home)) problem(`during "${ctl.edit}": ${p}`);
        for (const p of locateSpecs(home).duplicates) problem(`during "${ctl.edit}": ${p}`);
        for (const p of taskProblems(home, created)) problem(`during "${ctl.edit}": ${p}`);
        if (daemon.child.exitCode !== null) problem(`the daemon exited (${daemon.child.exitCode}): ${daemon.stderr()}`);
        await sleep(100);
      }
    })();

    /** Runs one procedure (its name in stats) on a worker and records its outcome. */
    const perform = async (name, workerId, text) => {
      ctl.edit = `${name} on ${workerId}`;
      const begun = Date.now();
      const result = await operator(scope, text);
      stats[name].push(result.code);
      if (process.env.CHAOS_HAND_TRACE) t.diagnostic(`${name} on ${workerId}: exit ${result.code} in ${Date.now() - begun} ms ${result.stderr.trim().slice(0, 200)}`);
      if (name.endsWith('-script') && ![0, 3].includes(result.code)) t.diagnostic(`${name} on ${workerId} exited ${result.code}: ${result.stderr.trim()}`);
      return result;
    };

    const edits = {
      // A on any running worker: the daemon may race it (a crash being restarted): its start may be refused.
      A: async () => {
        const target = pick(runningWorkers(home));
        if (target) await perform('A', target.id, procedureText('A', target.id));
      },
      // B: a chatty worker's whole group killed with SIGKILL (no exit record: a zombie), then cleaned up by
      // hand, at once or after the daemon may have noticed (it restarts a zombie by itself).
      B: async () => {
        const target = pick(runningWorkers(home, 'chatty'));
        if (!target) return;
        try {
          process.kill(-target.spec.execution.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
        await sleep(randomInt(0, 600));
        if (Math.random() < 0.7) {
          movedByHand.add(target.id);
          await perform('B', target.id, procedureText('B', target.id));
        } else await perform('B-script', target.id, `./scripts/cleanup-zombie-workers.sh ${target.id}\n`);
      },
      // D on any running worker: by hand (pkill -f, jq, mv) or fail-worker.sh.
      D: async () => {
        const target = pick(runningWorkers(home));
        if (!target) return;
        if (Math.random() < 0.6) {
          movedByHand.add(target.id);
          await perform('D', target.id, procedureText('D', target.id));
        } else await perform('D-script', target.id, `./scripts/fail-worker.sh ${target.id}\n`);
      },
    };
    // The hostile edit, once, a few seconds in: the stranger's pid written into a running chatty spec the way
    // the runbook edits specs (jq to a temp file, mv); then, after a moment, a procedure on that worker.
    const strangerEdit = async () => {
      const target = pick(runningWorkers(home, 'chatty'));
      if (!target) return false;
      ctl.edit = `stranger pid ${stranger} into ${target.id}`;
      const spec = `"$COMMIT_RELAY_HOME/coordination/worker-specs/active/${target.id}.json"`;
      const result = await operator(scope, `jq '.execution.pid = ${stranger}' ${spec} > ${spec}.tmp && mv ${spec}.tmp ${spec}\n`);
      stats.stranger.push(result.code);
      await sleep(randomInt(500, 1500));
      const next = pick(['A', 'D', 'D-script']);
      if (next === 'D') movedByHand.add(target.id);
      await perform(next, target.id, next === 'D-script' ? `./scripts/fail-worker.sh ${target.id}\n` : procedureText(next, target.id));
      return true;
    };

    // Keep the fleet up, beside the edits: replace what the edits failed and what finished.
    const upkeep = (async () => {
      while (!ctl.stop) {
        await sleep(300);
        const active = new Map();
        for (const id of locateSpecs(home).flow.keys()) {
          const found = readSpecAnywhere(home, id);
          if (found?.place === 'active') active.set(found.spec.worker_type, (active.get(found.spec.worker_type) ?? 0) + 1);
        }
        if (readQueue(home).tasks.some((task) => task.status === 'queued')) continue;
        const missing = Object.entries(FLEET).filter(([type, n]) => (active.get(type) ?? 0) < n).map(([type]) => type);
        await Promise.all(missing.map((type) => createTask(type)));
      }
    })();

    const started = Date.now();
    let strangerDone = false;
    let editCount = 0;
    /** @type {('A' | 'B' | 'D')[]} */
    const bag = [];
    /** The next procedure: A, B and D in a random order, then again in another. */
    const next = () => {
      if (bag.length === 0) {
        bag.push('A', 'B', 'D');
        for (let i = bag.length - 1; i > 0; i -= 1) {
          const j = randomInt(0, i);
          [bag[i], bag[j]] = [bag[j], bag[i]];
        }
      }
      return defined(bag.shift(), 'a procedure');
    };
    // Each procedure performed at least once (by hand or as its script); a target may be missing at a pick.
    const everyKindDone = () => stats.A.length > 0 && stats.B.length + stats['B-script'].length > 0 && stats.D.length + stats['D-script'].length > 0;
    while (Date.now() - started < EDIT_MS || (!everyKindDone() && Date.now() - started < EDIT_MS * 4)) {
      await sleep(randomInt(50, 500));
      if (!strangerDone && Date.now() - started > 3_000) strangerDone = await strangerEdit();
      else await edits[next()]();
      editCount += 1;
    }
    if (!everyKindDone()) problem(`not every procedure was performed in ${Date.now() - started} ms: ${JSON.stringify(stats)}`);
    ctl.edit = 'none (edits over)';

    // Settle: the daemon finishes what the last edit started (a stop in its grace, an orphan being stopped).
    await waitFor(() => duplicateRuns(home).length === 0 && unrecordedRuns(home).length === 0, { what: 'every live run to be the one its spec records', timeoutMs: OVERLAP_LIMIT_MS + 3_000, intervalMs: 100 }).catch(() => {});
    ctl.stop = true;
    await Promise.all([sampler, upkeep]);

    problems.push(...duplicateRuns(home).map((p) => `at the end: ${p}`));
    problems.push(...unrecordedRuns(home).map((p) => `at the end: ${p}`));
    if (!isLive(stranger)) problem(`the stranger (pid ${stranger}) is gone at the end`);
    problems.push(...unparsableFiles(home).map((p) => `at the end: ${p}`));
    const located = locateSpecs(home);
    problems.push(...located.duplicates.map((p) => `at the end: ${p}`));
    problems.push(...taskProblems(home, created).map((p) => `at the end: ${p}`));
    // The runbook's hand moves log no worker_failed: for those, at most one (the daemon's, had it raced).
    const handExcused = (p) => [...movedByHand].some((id) => p === `failed worker ${id}: 0 worker_failed events, expected 1`);
    // The daemon still runs: a worker finishing right now has its spec in completed/ an instant before its outbox's events are appended.
    const logProblems = () => eventLogProblems(home).filter((p) => !handExcused(p));
    await waitFor(() => logProblems().length === 0, { what: 'every finished worker\'s events logged', timeoutMs: 5_000 }).catch(() => {});
    problems.push(...logProblems().map((p) => `at the end: ${p}`));
    const validate = await run(home, ['validate']);
    if (validate.code !== 0) problems.push(`validate exited ${validate.code}: ${validate.stdout.trim()} ${validate.stderr.trim()}`);
    if (daemon.child.exitCode !== null) problem(`the daemon exited (${daemon.child.exitCode})`);

    const tally = (codes) => `${codes.length} (${[...new Set(codes)].sort().map((c) => `${codes.filter((x) => x === c).length}× exit ${c}`).join(', ')})`;
    t.diagnostic(`${editCount} edits in ${((Date.now() - started) / 1000).toFixed(1)} s, ${samples} samples; ${Object.entries(stats).map(([k, v]) => `${k}: ${tally(v)}`).join('; ')}`);
    const strangerEvents = readFileSync(coord(home, 'pm-activity.jsonl'), 'utf8').split('\n').filter((line) => line.includes(`${stranger}`)).map((line) => JSON.parse(line).event);
    t.diagnostic(`events naming the stranger's pid ${stranger}: ${strangerEvents.join(', ') || 'none'}`);
    t.diagnostic(`${created.length} tasks; specs: ${['active', 'completed', 'failed'].map((f) => `${f} ${[...located.flow.values()].filter((places) => places.includes(f)).length}`).join(', ')}`);
    assert.deepEqual(problems, [], `hand edits broke an invariant:\n${problems.join('\n')}\n--- the home:\n${describeHome(home, 40)}`);
  }),
);
