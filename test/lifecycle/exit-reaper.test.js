// The exit record's last step: the shim renames it into place itself, or leaves it at its temp name for the parent
// that started it and said it would (COMMIT_RELAY_EXIT_REAPER), which renames it as it reaps the shim; a record a dead
// reaper left there is settled by whoever reads next (src/store/exits.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { shimPath } from '../../dist/process/spawn.js';
import { exitTempFile, hasExitRecord, readExitRecord, removeExitRecordOf, settleExitRecord } from '../../dist/store/exits.js';
import { removeStaleTempFiles } from '../../dist/store/temp-files.js';
import { startWorker } from '../../dist/worker/index.js';
import { FIXTURES, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { uniqueId, writePendingSpec } from '../helpers/specs.js';

const SCOPE = { types: { three: { command: ['sh', join(FIXTURES, 'exit-with.sh'), '3'] }, forever: { command: ['sh', join(FIXTURES, 'forever.sh')], stop_grace_seconds: 1 } } };

/** The names in worker-exits/ that are temp names of WORKER_ID's record. */
const temps = (/** @type {{ exits: string }} */ paths, /** @type {string} */ workerId) => readdirSync(paths.exits).filter((name) => name.startsWith(`${workerId}.json.tmp.`));

/**
 * Runs the shim as this process's child (`exit 3` as its command) with the environment given, and waits for its end.
 * @param {string} exitFile
 * @param {string} workerId
 * @param {Record<string, string>} env
 * @returns {Promise<number>} the shim's pid
 */
async function runShim(exitFile, workerId, env) {
  const child = spawn('/bin/sh', [shimPath(), workerId, 'run-test-1', exitFile, '--', 'sh', '-c', 'exit 3'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: 'ignore' });
  const pid = child.pid;
  assert.ok(pid !== undefined);
  await new Promise((resolve) => child.once('exit', resolve));
  return pid;
}

test('a shim whose parent is its reaper leaves its record at its temp name; without one, or another reaper, it renames it itself', () => withHome({}, async (t) => {
  const id = uniqueId('reaper');
  const file = t.paths.exitFile(id);
  const left = await runShim(file, id, { COMMIT_RELAY_EXIT_REAPER: String(process.pid) });
  assert.equal(existsSync(file), false, 'left for the reaper');
  assert.deepEqual(temps(t.paths, id), [`${id}.json.tmp.${left}`]);
  assert.deepEqual(JSON.parse(readFileSync(exitTempFile(file, left), 'utf8')), { worker_id: id, run_id: 'run-test-1', status: 3 });
  // A reaper that did not rename it (it died, say): the next read settles it.
  const record = readExitRecord(t.paths, id);
  assert.equal(record?.status, 3);
  assert.deepEqual(temps(t.paths, id), []);

  for (const env of /** @type {Record<string, string>[]} */ ([{}, { COMMIT_RELAY_EXIT_REAPER: '1' }, { COMMIT_RELAY_EXIT_REAPER: 'x' }])) {
    const other = uniqueId('reaper');
    await runShim(t.paths.exitFile(other), other, env);
    assert.equal(JSON.parse(readFileSync(t.paths.exitFile(other), 'utf8')).status, 3, JSON.stringify(env));
    assert.deepEqual(temps(t.paths, other), []);
  }
}));

test('a shim whose reaper died before its end renames its record itself', () => withHome({}, async (t) => {
  const id = uniqueId('orphan');
  const file = t.paths.exitFile(id);
  // An sh that names itself the reaper, starts the shim in the background and exits at once: the shim ends later,
  // reparented.
  const starter = spawn('/bin/sh', ['-c', 'COMMIT_RELAY_EXIT_REAPER=$$; export COMMIT_RELAY_EXIT_REAPER; /bin/sh "$0" "$1" run-o "$2" -- sleep 0.3 & exit 0', shimPath(), id, file], { stdio: 'ignore', detached: true });
  assert.ok(starter.pid !== undefined);
  t.tracker.group(starter.pid);
  await new Promise((resolve) => starter.once('exit', resolve));
  assert.equal(existsSync(file), false, 'still running');
  await waitFor(() => existsSync(file), { what: 'the orphaned shim\'s record' });
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).run_id, 'run-o');
  assert.deepEqual(temps(t.paths, id), []);
}));

test('the daemon\'s spawn is the reaper: the record is in place when the shim\'s end is heard, and the worker never sees the variable', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('spawned');
  writePendingSpec(t.home, id, { workerType: 'three' });
  const started = await startWorker(t.ctx({ reapsExitRecords: true }), id);
  t.tracker.group(started.pid);
  const child = started.child;
  // (startWorker lets it go: held again, so this process waits for its end.)
  child.ref();
  if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', () => resolve(undefined)));
  assert.equal(JSON.parse(readFileSync(t.paths.exitFile(id), 'utf8')).run_id, started.runId);
  assert.deepEqual(temps(t.paths, id), []);
  const environ = await new Promise((resolve) => {
    const probe = spawn('/bin/sh', [shimPath(), id, 'run-env', t.paths.exitFile(id), '--', 'sh', '-c', 'echo "${COMMIT_RELAY_EXIT_REAPER-unset}"'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', COMMIT_RELAY_EXIT_REAPER: String(process.pid) }, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    probe.stdout.on('data', (chunk) => (out += chunk));
    probe.once('close', () => resolve(out.trim()));
  });
  assert.equal(environ, 'unset');
}));

test('a record left at a temp name is settled only when whole, its shim gone, and no record is in place; the newest first', () => withHome({}, async (t) => {
  const id = uniqueId('left');
  const file = t.paths.exitFile(id);
  const line = (/** @type {string} */ run, status = 0) => `${JSON.stringify({ worker_id: id, run_id: run, status })}\n`;
  // A live process whose argv names the record: its shim, still writing. Not settled.
  const live = spawn('/bin/sh', ['-c', 'sleep 30', 'shim', file], { stdio: 'ignore', detached: true });
  assert.ok(live.pid !== undefined);
  t.tracker.group(live.pid);
  writeFileSync(exitTempFile(file, live.pid), line('run-live'));
  assert.equal(hasExitRecord(t.paths, id), false);
  assert.equal(readExitRecord(t.paths, id), undefined);
  live.kill('SIGKILL');
  await new Promise((resolve) => live.once('exit', resolve));
  // A part of a line (a shim killed while writing): never settled.
  const part = exitTempFile(file, 999_999_001);
  writeFileSync(part, '{"worker_id":"');
  // Two whole ones of ended shims (a pid that is gone, one reused by a stranger: this process): the newest is settled.
  const older = exitTempFile(file, 999_999_002);
  writeFileSync(older, line('run-older'));
  utimesSync(older, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  writeFileSync(exitTempFile(file, process.pid), line('run-newer', 3));
  const liveTemp = exitTempFile(file, live.pid);
  utimesSync(liveTemp, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
  assert.equal(hasExitRecord(t.paths, id), true);
  assert.equal(readExitRecord(t.paths, id)?.run_id, 'run-newer');
  assert.equal(existsSync(exitTempFile(file, process.pid)), false);
  assert.ok(existsSync(part) && existsSync(older), 'the others are left to the temp-file sweep');
  // A record in place is never replaced by one left at a temp name.
  writeFileSync(exitTempFile(file, 999_999_003), line('run-late'));
  assert.equal(readExitRecord(t.paths, id)?.run_id, 'run-newer');
  assert.ok(existsSync(exitTempFile(file, 999_999_003)));
}));

test('the stale temp-file sweep moves a whole record left for a dead reaper into place, and removes a part of one', () => withHome({}, async (t) => {
  const id = uniqueId('swept');
  const file = t.paths.exitFile(id);
  const whole = exitTempFile(file, 999_999_011);
  const part = exitTempFile(file, 999_999_012);
  writeFileSync(whole, `${JSON.stringify({ worker_id: id, run_id: 'run-swept', status: 0 })}\n`);
  writeFileSync(part, '{"worker_id":');
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(whole, old, old);
  utimesSync(part, old, old);
  const { removed, failed } = removeStaleTempFiles(t.paths, Date.now());
  assert.deepEqual(failed, []);
  assert.deepEqual(removed.map((r) => r.file), [part]);
  assert.equal(readExitRecord(t.paths, id)?.run_id, 'run-swept');
  assert.deepEqual(temps(t.paths, id), []);
}));

test('only a starter that stays names itself the reaper: a command\'s shim renames its own record', () => withHome(SCOPE, async (t) => {
  for (const reaps of [false, true]) {
    const id = uniqueId('who-reaps');
    writePendingSpec(t.home, id, { workerType: 'forever' });
    const started = await startWorker(t.ctx(reaps ? { reapsExitRecords: true } : {}), id);
    t.tracker.group(started.pid);
    const environ = readFileSync(`/proc/${started.pid}/environ`, 'latin1').split('\0');
    assert.equal(environ.find((v) => v.startsWith('COMMIT_RELAY_EXIT_REAPER=')), reaps ? `COMMIT_RELAY_EXIT_REAPER=${process.pid}` : undefined);
    process.kill(-started.pid, 'SIGKILL');
  }
}));

test('the reaper\'s rename never puts an older record over a newer one in place', () => withHome({}, async (t) => {
  const id = uniqueId('order');
  const file = t.paths.exitFile(id);
  const line = (/** @type {string} */ run) => `${JSON.stringify({ worker_id: id, run_id: run, status: 0 })}\n`;
  writeFileSync(file, line('run-newer'));
  writeFileSync(exitTempFile(file, 999_999_021), line('run-older'));
  const old = new Date(Date.now() - 60_000);
  utimesSync(exitTempFile(file, 999_999_021), old, old);
  assert.equal(settleExitRecord(file, 999_999_021), false);
  assert.equal(readExitRecord(t.paths, id)?.run_id, 'run-newer');
  writeFileSync(exitTempFile(file, 999_999_022), line('run-newest'));
  utimesSync(file, old, old);
  assert.equal(settleExitRecord(file, 999_999_022), true);
  assert.equal(readExitRecord(t.paths, id)?.run_id, 'run-newest');
  assert.equal(settleExitRecord(file, 999_999_023), false, 'none left: nothing to do');
  // Only the named run's record is removed.
  removeExitRecordOf(t.paths, id, 'run-older');
  assert.equal(readExitRecord(t.paths, id)?.run_id, 'run-newest');
  removeExitRecordOf(t.paths, id, 'run-newest');
  assert.equal(existsSync(file), false);
}));
