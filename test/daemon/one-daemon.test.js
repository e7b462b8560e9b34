// One daemon per home, whatever happens to the files: coordination/ removed while the daemon runs (the
// README's "start over" step at the wrong moment) and its config restored. The pid file comes back, the
// health check finds the daemon, and a second daemon is refused; the workers are not all stopped at once.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { coord, readJson, run, waitFor } from '../helpers/home.js';
import { events, pmState } from '../helpers/daemon.js';
import { isAlive, pidOf } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';

test('coordination/ removed and its config restored under a running daemon: the claim is restored and a second daemon refused', () => withHome({}, async (t) => {
  const pidFile = coord(t.home, 'pm-daemon.pid.json');
  const daemon = await t.startDaemon();
  const config = join(t.home, 'config-backup');
  cpSync(coord(t.home, 'config'), config, { recursive: true });
  // Gone in one step (the daemon keeps writing into it meanwhile, so rm -rf races it), then removed.
  renameSync(coord(t.home), join(t.home, 'gone'));
  rmSync(join(t.home, 'gone'), { recursive: true, force: true, maxRetries: 20, retryDelay: 10 });
  mkdirSync(coord(t.home), { recursive: true });
  cpSync(config, coord(t.home, 'config'), { recursive: true });

  // Before the daemon restores its pid file, and after: a second daemon is refused either way.
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
    const aside = join(t.home, 'aside');
    cpSync(active, aside, { recursive: true });
    rmSync(active, { recursive: true, force: true });
    mkdirSync(active);
    await waitFor(() => events(t.home).some((e) => e.event === 'actions_held' && /left active\//.test(e.data.reason)), { what: 'the orphan stops held', timeoutMs: 10_000 });
    // Put back in one step (a rename over the empty folder: no moment without it), as a restore from a backup would.
    renameSync(aside, active);
    await waitFor(() => Object.keys(monitored()).length === 3, { what: 'the specs seen again', timeoutMs: 10_000 });
    assert.ok(pids.every(isAlive), 'no worker was stopped');
    assert.equal(events(t.home).filter((e) => e.event === 'worker_orphan_stopped').length, 0);
  }));
