// The standby's protocol (scripts/lib/worker-shim.sh --standby, --relay), driven by src/process/spawn.ts as the daemon
// drives it: "go" starts COMMAND once, through the relay; the run's shim records COMMAND's status and forwards the
// signals sent to its pid alone; a standby dropped, or killed before "go", runs nothing and leaves nothing; a relay
// killed under a run ends the run's shim at once, with no record.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadWorkerTypes } from '../../dist/config/load.js';
import { dropStandby, goStandby, readyStandby, spawnStandby, spawnWorker } from '../../dist/process/spawn.js';
import { waitFor } from '../helpers/home.js';
import { isLive, pidsWithEnv } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';

/**
 * COMMAND: writes "ran" to $0, says so on TERM and exits 5, else exits with $1 after $2 seconds. It sleeps in the
 * foreground, a short sleep at a time (a background sleep killed from the trap could be caught between its fork and its
 * exec, and swallow the signal: it would outlive the run).
 */
const SCRIPT = 'echo ran >>"$0"; trap \'echo term >>"$0"; exit 5\' TERM; i=0; while [ "$i" -lt $(($2 * 20)) ]; do sleep 0.05; i=$((i + 1)); done; exit "$1"';
const TYPES = {
  probe: { command: ['sh', '-c', SCRIPT, '{home}/ran', '{description}', '30'], stop_grace_seconds: 1 },
  // Exits 127 on TERM: an exit code that is also what `wait` answers for a child already waited for.
  code127: { command: ['sh', '-c', 'echo ran >>"$0"; trap \'exit 127\' TERM; while :; do sleep 0.05; done', '{home}/ran127'], stop_grace_seconds: 1 },
  // Counts the TERMs it gets over about 1.5 s, then exits 3.
  counter: { command: ['sh', '-c', 'echo ran >>"$0"; trap \'echo term >>"$0"\' TERM; i=0; while [ "$i" -lt 30 ]; do sleep 0.05; i=$((i + 1)); done; exit 3', '{home}/terms'], stop_grace_seconds: 1 },
};

/**
 * A standby of worker `id`, made as the daemon makes one (its launch; `code` the exit code COMMAND ends with).
 * @param {import('../helpers/scope.js').Scope} t @param {string} id @param {string} code
 */
function standbyOf(t, id, code, type = 'probe') {
  const launch = { workerId: id, taskId: null, description: code, workerType: loadWorkerTypes(t.paths).get(type), restartCount: 0, reapsExitRecord: true };
  const standby = spawnStandby(t.paths, launch);
  t.tracker.group(standby.pid);
  return { standby, launch };
}

/** The processes carrying this run's token, alive. @param {string} runId */
const carriers = (runId) => pidsWithEnv('COMMIT_RELAY_RUN_ID', runId).filter((pid) => isLive(pid));

/**
 * Whether a process catches TERM (its SigCgt mask in /proc/PID/status): the run's shim, exec'd by the standby, has set
 * its traps (before that, a TERM to it ends it by default action: the short window the shim's comments tell).
 * @param {number} pid
 */
const catchesTerm = (pid) => {
  const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return mask !== undefined && (BigInt(`0x${mask}`) & (1n << 14n)) !== 0n;
};

/** The shim's end: its exit code, or its signal. @param {import('node:child_process').ChildProcess} child */
const ended = (child) => (child.exitCode !== null || child.signalCode !== null ? { code: child.exitCode, signal: child.signalCode } : undefined);

test('told to go, a standby runs COMMAND once; the run\'s shim records its status, and forwards a TERM sent to its pid alone', () =>
  withHome({ types: TYPES }, async (t) => {
    const ranFile = join(t.home, 'ran');
    const { standby, launch } = standbyOf(t, 'w-exit', '7');
    // Ready (the header written), told to go with the restart count: COMMAND runs, and ends with its own code.
    await waitFor(() => carriers(standby.runId).length >= 4, { what: 'the standby, its split, its relay and the relay\'s child' });
    assert.equal(existsSync(ranFile), false, 'nothing runs before "go"');
    const ready = readyStandby(t.paths, standby, { ...launch, restartCount: 2 });
    assert.ok(ready !== undefined);
    assert.equal(goStandby(standby, 2), true);
    await waitFor(() => existsSync(ranFile), { what: 'COMMAND to run' });
    // Its argv now names the worker (runbook A's grep).
    await waitFor(() => readFileSync(`/proc/${standby.pid}/cmdline`, 'utf8').includes('w-exit') && catchesTerm(standby.pid), { what: 'the shim proper, its traps set' });
    process.kill(standby.pid, 'SIGTERM');
    const end = await waitFor(() => ended(standby.child), { what: 'the run\'s end' });
    assert.deepEqual(end, { code: 5, signal: null }, 'the TERM reached COMMAND, and the shim ends with its status');
    assert.deepEqual(readFileSync(ranFile, 'utf8').trim().split('\n'), ['ran', 'term'], 'COMMAND ran once');
    const record = JSON.parse(readFileSync(t.paths.exitFile('w-exit'), 'utf8'));
    assert.deepEqual(record, { worker_id: 'w-exit', run_id: standby.runId, status: 5 });
    await waitFor(() => carriers(standby.runId).length === 0, { what: 'nothing left of the run' });
  }));

test('a standby dropped, or killed before "go" (then told go), runs nothing and leaves no record and no process', () =>
  withHome({ types: TYPES }, async (t) => {
    const ranFile = join(t.home, 'ran');
    const dropped = standbyOf(t, 'w-drop', '0').standby;
    const killed = standbyOf(t, 'w-kill', '0').standby;
    await waitFor(() => carriers(dropped.runId).length >= 4 && carriers(killed.runId).length >= 4, { what: 'both standbys up' });
    dropStandby(dropped);
    // Killed by someone else, then told "go" (its stdin is still open: the relay's child holds it): nothing starts.
    process.kill(killed.pid, 'SIGKILL');
    await waitFor(() => ended(dropped.child) && ended(killed.child), { what: 'both ended' });
    killed.child.stdin?.write('go 1\n');
    assert.deepEqual(ended(dropped.child), { code: 0, signal: null });
    await waitFor(() => carriers(dropped.runId).length === 0 && carriers(killed.runId).length === 0, { what: 'their processes gone' });
    assert.equal(existsSync(ranFile), false, 'COMMAND never ran');
    assert.equal(existsSync(t.paths.exitFile('w-drop')), false);
    assert.equal(existsSync(t.paths.exitFile('w-kill')), false);
  }));

test('a relay killed under a run ends the run\'s shim at once with status 1 and no record (what carries the token is the sweep\'s)', () =>
  withHome({ types: TYPES }, async (t) => {
    const { standby, launch } = standbyOf(t, 'w-relay', '0');
    await waitFor(() => carriers(standby.runId).length >= 4, { what: 'the standby up' });
    assert.ok(readyStandby(t.paths, standby, launch) !== undefined);
    assert.equal(goStandby(standby, 1), true);
    await waitFor(() => existsSync(join(t.home, 'ran')) && readFileSync(`/proc/${standby.pid}/cmdline`, 'utf8').includes('w-relay'), { what: 'the run' });
    const relay = carriers(standby.runId).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--relay') && readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(standby.pid));
    assert.ok(relay !== undefined, 'the relay, a child of the run\'s shim');
    const started = Date.now();
    process.kill(relay, 'SIGKILL');
    const end = await waitFor(() => ended(standby.child), { what: 'the shim\'s end', timeoutMs: 5000 });
    assert.deepEqual(end, { code: 1, signal: null });
    assert.ok(Date.now() - started < 2000, `at once, not when COMMAND ends (${Date.now() - started} ms)`);
    assert.equal(existsSync(t.paths.exitFile('w-relay')), false, 'no record');
  }));

/**
 * A run started in a standby, running: its shim's argv names the worker, COMMAND has written to `file`.
 * @param {import('../helpers/scope.js').Scope} t @param {string} id @param {string} type @param {string} file
 */
async function relayedRun(t, id, type, file) {
  const { standby, launch } = standbyOf(t, id, '0', type);
  await waitFor(() => carriers(standby.runId).length >= 4, { what: 'the standby up' });
  assert.ok(readyStandby(t.paths, standby, launch) !== undefined);
  assert.equal(goStandby(standby, 1), true);
  await waitFor(() => existsSync(file) && readFileSync(`/proc/${standby.pid}/cmdline`, 'utf8').includes(id) && catchesTerm(standby.pid), { what: 'the run, its shim\'s traps set' });
  return standby;
}

test('an exit code of 127 after a forwarded TERM is recorded as 127 (not as the interrupted wait\'s 143), run by a shim or by a relay', () =>
  withHome({ types: TYPES }, async (t) => {
    const file = join(t.home, 'ran127');
    const cold = spawnWorker(t.paths, { workerId: 'w-cold', taskId: null, description: 'x', workerType: loadWorkerTypes(t.paths).get('code127'), restartCount: 0 });
    t.tracker.group(cold.pid);
    await waitFor(() => existsSync(file), { what: 'the cold run' });
    process.kill(cold.pid, 'SIGTERM');
    await waitFor(() => existsSync(t.paths.exitFile('w-cold')), { what: 'its record' });
    assert.equal(JSON.parse(readFileSync(t.paths.exitFile('w-cold'), 'utf8')).status, 127);
    const relayed = await relayedRun(t, 'w-relayed', 'code127', file);
    process.kill(relayed.pid, 'SIGTERM');
    assert.deepEqual(await waitFor(() => ended(relayed.child), { what: 'the relayed run\'s end' }), { code: 127, signal: null });
    assert.equal(JSON.parse(readFileSync(t.paths.exitFile('w-relayed'), 'utf8')).status, 127);
  }));

test('a TERM to a relayed run\'s whole group reaches COMMAND twice at most (as from a shim that is its parent), and the run ends with its code', () =>
  withHome({ types: TYPES }, async (t) => {
    const file = join(t.home, 'terms');
    const standby = await relayedRun(t, 'w-group', 'counter', file);
    process.kill(-standby.pid, 'SIGTERM');
    assert.deepEqual(await waitFor(() => ended(standby.child), { what: 'the run\'s end', timeoutMs: 5000 }), { code: 3, signal: null });
    const terms = readFileSync(file, 'utf8').trim().split('\n').filter((l) => l === 'term').length;
    assert.ok(terms >= 1 && terms <= 2, `COMMAND got ${terms} TERMs`);
    assert.equal(JSON.parse(readFileSync(t.paths.exitFile('w-group'), 'utf8')).status, 3);
  }));
