// One daemon per home, whatever happens to the files: coordination/ removed while the daemon runs (the
// README's "start over" step at the wrong moment) and its config restored. The pid file comes back, the
// health check finds the daemon, and a second daemon is refused; the workers are not all stopped at once.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { coord, fixtureCommand, readJson, run, waitFor } from '../helpers/home.js';
import { events, morePasses, pmState } from '../helpers/daemon.js';
import { isAlive, pidOf } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';

/**
 * The README's "start over" under a running daemon: coordination/ removed, then its config put back.
 * @param {string} home
 */
function removeCoordinationKeepingConfig(home) {
  const config = join(home, 'config-backup');
  cpSync(coord(home, 'config'), config, { recursive: true });
  // Gone in one step (the daemon keeps writing into it meanwhile, so rm -rf races it), then removed.
  renameSync(coord(home), join(home, 'gone'));
  rmSync(join(home, 'gone'), { recursive: true, force: true, maxRetries: 20, retryDelay: 10 });
  mkdirSync(coord(home), { recursive: true });
  cpSync(config, coord(home, 'config'), { recursive: true });
}

test('coordination/ removed and its config restored under a running daemon: the claim is restored and a second daemon refused', () => withHome({}, async (t) => {
  const pidFile = coord(t.home, 'pm-daemon.pid.json');
  const daemon = await t.startDaemon();
  removeCoordinationKeepingConfig(t.home);

  // Before the daemon restores its pid file, and after: the health check never says it is gone, and a second daemon is refused.
  const meanwhile = await run(t.home, [], { script: 'health-check-pm-daemon.sh' });
  assert.ok(meanwhile.code === 0 || meanwhile.code === 1, `never "not running" (exit 3): ${meanwhile.code}: ${meanwhile.stdout}`);
  const early = await run(t.home, ['pm-daemon', '--once']);
  assert.notEqual(early.code, 0, 'a second daemon is refused at once');
  assert.match(early.stderr, /already runs/);
  assert.equal(early.stderr.trim().split('\n').length, 1, 'in one line');

  await waitFor(() => existsSync(pidFile) && readJson(pidFile).pid === daemon.child.pid, { what: 'the pid file to be restored', timeoutMs: 15_000 });
  const health = await run(t.home, [], { script: 'health-check-pm-daemon.sh' });
  assert.equal(health.code, 0, `the health check finds the daemon: ${health.stdout}${health.stderr}`);
  const second = await run(t.home, ['pm-daemon', '--once']);
  assert.notEqual(second.code, 0);
  assert.match(second.stderr, new RegExp(`already runs .*pid ${daemon.child.pid}`));
  assert.ok(events(t.home).some((e) => e.event === 'daemon_warning' && e.data.warning === 'claim_restored'), 'the restore is logged');
  assert.equal(isAlive(pidOf(daemon.child)), true);

  daemon.child.kill('SIGTERM');
  assert.equal((await daemon.exited).code, 0);
  // Gone, it lets go of the home: the next daemon starts.
  const next = await run(t.home, ['pm-daemon', '--once']);
  assert.equal(next.code, 0, next.stderr);
}));

test('the specs of most of the fleet vanishing at once holds the orphan stops for a pass; specs put back in time keep their workers', () =>
  withHome({ daemonConfig: { mass_action_min: 2 } }, async (t) => {
    for (const description of ['keep-1', 'keep-2', 'keep-3']) {
      const created = await run(t.home, ['create-task', '--description', description, '--worker-type', 'fixture']);
      assert.equal(created.code, 0, created.stderr);
    }
    await t.startDaemon({ env: { PM_LOOP_INTERVAL: '3' } });
    const active = coord(t.home, 'worker-specs', 'active');
    /** @returns {Record<string, { pid?: number | null }>} */
    const monitored = () => pmState(t.home).monitored_workers ?? {};
    await waitFor(() => Object.values(monitored()).filter((w) => w.pid).length === 3, { what: 'three workers running', timeoutMs: 20_000 });
    const pids = Object.values(monitored()).map((w) => /** @type {number} */ (w.pid));
    for (const pid of pids) t.tracker.group(pid);
    // Moved out of the folder, which stays (a folder removed or replaced is the next test's case).
    const aside = join(t.home, 'aside');
    mkdirSync(aside);
    const names = readdirSync(active);
    for (const name of names) renameSync(join(active, name), join(aside, name));
    await waitFor(() => events(t.home).some((e) => e.event === 'actions_held' && /left active\//.test(e.data.reason)), { what: 'the orphan stops held', timeoutMs: 10_000 });
    for (const name of names) renameSync(join(aside, name), join(active, name));
    await waitFor(() => Object.keys(monitored()).length === 3, { what: 'the specs seen again', timeoutMs: 10_000 });
    assert.ok(pids.every(isAlive), 'no worker was stopped');
    assert.equal(events(t.home).filter((e) => e.event === 'worker_orphan_stopped').length, 0);
  }));

test('coordination/ removed while workers run (any fleet size): their specs are written back, they are judged as before, and they can still end', () =>
  withHome({ types: { tree: { command: fixtureCommand('checkin-loop.sh', '0.2'), max_restarts: 0, stop_grace_seconds: 1 } } }, async (t) => {
    for (const description of ['tree-1', 'tree-2', 'tree-3']) {
      const created = await run(t.home, ['create-task', '--description', description, '--worker-type', 'tree']);
      assert.equal(created.code, 0, created.stderr);
    }
    await t.startDaemon({ env: { PM_LOOP_INTERVAL: '2' } });
    const active = coord(t.home, 'worker-specs', 'active');
    /** @returns {Record<string, { pid?: number | null, checkin_count?: number }>} */
    const monitored = () => (existsSync(coord(t.home, 'pm-state.json')) ? pmState(t.home).monitored_workers ?? {} : {});
    await waitFor(() => Object.values(monitored()).filter((w) => w.pid && (w.checkin_count ?? 0) >= 10).length === 3, { what: 'three workers running and checking in', timeoutMs: 20_000 });
    const before = monitored();
    const workers = Object.entries(before).map(([id, w]) => ({ id, pid: /** @type {number} */ (w.pid), checkins: w.checkin_count ?? 0 }));
    for (const { pid } of workers) t.tracker.group(pid);
    removeCoordinationKeepingConfig(t.home);

    await waitFor(() => workers.every(({ id }) => existsSync(join(active, `${id}.json`))), { what: 'the specs written back', timeoutMs: 15_000 });
    const again = await waitFor(() => (Object.keys(monitored()).length === 3 ? monitored() : undefined), { what: 'the workers supervised again', timeoutMs: 15_000 });
    // What the daemon knew of each is kept (its check-ins), not started afresh: a long-quiet worker is not judged by its start.
    for (const { id, checkins } of workers) assert.ok((again[id]?.checkin_count ?? 0) >= checkins, `${id}: ${again[id]?.checkin_count} check-ins counted, ${checkins} before`);
    await morePasses(t.home, 2);
    assert.ok(workers.every(({ pid }) => isAlive(pid)), 'no worker was stopped');
    const log = events(t.home);
    assert.equal(log.filter((e) => e.event === 'worker_orphan_stopped' || e.event === 'worker_stalled' || e.event === 'missed_checkin').length, 0);
    const restored = log.filter((e) => e.event === 'spec_restored');
    assert.deepEqual(restored.map((e) => e.worker_id).sort(), workers.map((w) => w.id).sort(), 'each spec restored once');
    for (const e of restored) assert.match(String(e.data.reason), /removed or replaced while its worker ran/);
    for (const { id, pid } of workers) {
      const spec = readJson(join(active, `${id}.json`));
      assert.deepEqual([spec.status, spec.execution.pid], ['running', pid]);
    }
    // Supervised to the end: a worker killed now is seen, and (max_restarts 0) moved to failed/, whose folder is back too.
    const [first] = workers;
    assert.ok(first);
    process.kill(-first.pid, 'SIGKILL');
    await waitFor(() => existsSync(join(coord(t.home, 'worker-specs', 'failed'), `${first.id}.json`)), { what: 'the killed worker failed', timeoutMs: 15_000 });
    assert.ok(events(t.home).some((e) => e.worker_id === first.id && e.event === 'worker_failed'));
  }));

test('the health check finds a daemon by the home\'s anchor when its pid file is gone: running, exit 1, and --restart starts no second one', () => withHome({}, async (t) => {
  const { HomeAnchor } = await import('../../dist/daemon/home-anchor.js');
  const { isHomeAnchorHeld } = await import('../../dist/store/daemon-pid.js');
  assert.equal(isHomeAnchorHeld(t.home), false);
  const anchor = await HomeAnchor.take(t.home);
  assert.notEqual(anchor, 'held');
  if (anchor === 'held') return;
  try {
    assert.equal(isHomeAnchorHeld(t.home), true);
    assert.equal(isHomeAnchorHeld(join(t.home, 'config-backup')), false, 'another home');
    const health = await run(t.home, ['--json'], { script: 'health-check-pm-daemon.sh' });
    assert.equal(health.code, 1, health.stdout + health.stderr);
    const report = JSON.parse(health.stdout);
    assert.deepEqual([report.state, report.running], ['pid_file_missing', true]);
    assert.match(report.message, /pm-daemon runs \(it holds this home\) but its pid file is missing/);
    const board = await run(t.home, ['--status'], { script: 'dashboards/daemon-monitor.sh' });
    assert.equal(board.code, 0, board.stderr);
    assert.match(board.stdout, /daemon\s+running, pid file missing/);
    assert.match(board.stdout, /pm-daemon runs \(it holds this home\)/);
    const restart = await run(t.home, ['--restart'], { script: 'health-check-pm-daemon.sh' });
    assert.equal(restart.code, 1, restart.stdout + restart.stderr);
    assert.equal(existsSync(coord(t.home, 'pm-daemon.pid.json')), false, 'no daemon was started');
  } finally {
    await anchor.release();
  }
  assert.equal(isHomeAnchorHeld(t.home), false);
  assert.equal((await run(t.home, [], { script: 'health-check-pm-daemon.sh' })).code, 3);
}));
