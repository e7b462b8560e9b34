// One daemon per home, whatever happens to the files: coordination/ removed while the daemon runs (the
// README's "start over" step at the wrong moment) and its config restored. The pid file comes back, the
// health check finds the daemon, and a second daemon is refused; the workers are not all stopped at once.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { ProcessTracker, isAlive, makeHome, readJson, removeHome, run, waitFor } from '../helpers/index.js';
import { events, startDaemon, stopDaemon } from '../helpers/daemon.js';

let home;
let tracker;
beforeEach(() => {
  home = makeHome();
  tracker = new ProcessTracker();
});
afterEach(() => {
  tracker.killHome(home);
  tracker.cleanup();
  removeHome(home);
});

const pidFile = () => join(home, 'coordination', 'pm-daemon.pid.json');

test('coordination/ removed and its config restored under a running daemon: the claim is restored and a second daemon refused', async () => {
  const daemon = await startDaemon(home, { tracker });
  try {
    const config = join(home, 'config-backup');
    cpSync(join(home, 'coordination', 'config'), config, { recursive: true });
    // Gone in one step (the daemon keeps writing into it meanwhile, so rm -rf races it), then removed.
    renameSync(join(home, 'coordination'), join(home, 'gone'));
    rmSync(join(home, 'gone'), { recursive: true, force: true, maxRetries: 20, retryDelay: 10 });
    mkdirSync(join(home, 'coordination'), { recursive: true });
    cpSync(config, join(home, 'coordination', 'config'), { recursive: true });

    // Before the daemon restores its pid file, and after: a second daemon is refused either way.
    const early = await run(home, ['pm-daemon', '--once']);
    assert.notEqual(early.code, 0, 'a second daemon is refused at once');
    assert.match(early.stderr, /already runs/);
    assert.equal(early.stderr.trim().split('\n').length, 1, 'in one line');

    await waitFor(() => existsSync(pidFile()) && readJson(pidFile()).pid === daemon.child.pid, { what: 'the pid file to be restored', timeoutMs: 15_000 });
    const health = await run(home, [], { script: 'health-check-pm-daemon.sh' });
    assert.equal(health.code, 0, `the health check finds the daemon: ${health.stdout}${health.stderr}`);
    const second = await run(home, ['pm-daemon', '--once']);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, new RegExp(`already runs .*pid ${daemon.child.pid}`));
    assert.ok(events(home).some((e) => e.event === 'daemon_warning' && e.data.warning === 'claim_restored'), 'the restore is logged');
    assert.equal(isAlive(daemon.child.pid), true);
  } finally {
    const exit = await stopDaemon(daemon);
    assert.equal(exit.code, 0, exit.stderr());
  }
  // Gone, it lets go of the home: the next daemon starts.
  const next = await run(home, ['pm-daemon', '--once']);
  assert.equal(next.code, 0, next.stderr);
});

test('the specs of most of the fleet vanishing at once holds the orphan stops for a pass; specs put back in time keep their workers', async () => {
  const home2 = makeHome(undefined, { daemonConfig: { mass_action_min: 2 } });
  const ids = ['keep-1', 'keep-2', 'keep-3'];
  try {
    for (const id of ids) {
      const created = await run(home2, ['create-task', '--description', id, '--worker-type', 'fixture']);
      assert.equal(created.code, 0, created.stderr);
    }
    const daemon = await startDaemon(home2, { tracker, env: { PM_LOOP_INTERVAL: '3' } });
    try {
      const active = join(home2, 'coordination', 'worker-specs', 'active');
      const running = () => readJson(join(home2, 'coordination', 'pm-state.json')).monitored_workers ?? {};
      await waitFor(() => Object.values(running()).filter((w) => w.pid).length === 3, { what: 'three workers running', timeoutMs: 20_000 });
      const pids = Object.values(running()).map((w) => w.pid);
      for (const pid of pids) tracker.group(pid);
      const aside = join(home2, 'aside');
      cpSync(active, aside, { recursive: true });
      rmSync(active, { recursive: true, force: true });
      mkdirSync(active);
      await waitFor(() => events(home2).some((e) => e.event === 'actions_held' && /left active\//.test(e.data.reason)), { what: 'the orphan stops held', timeoutMs: 10_000 });
      // Put back in one step (a rename), as a restore from a backup would.
      rmSync(active, { recursive: true, force: true });
      renameSync(aside, active);
      await waitFor(() => Object.keys(running()).length === 3, { what: 'the specs seen again', timeoutMs: 10_000 });
      assert.ok(pids.every(isAlive), 'no worker was stopped');
      assert.equal(events(home2).filter((e) => e.event === 'worker_orphan_stopped').length, 0);
    } finally {
      await stopDaemon(daemon);
    }
  } finally {
    tracker.killHome(home2);
    removeHome(home2);
  }
});
