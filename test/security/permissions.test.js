// The daemon warns at start when the home or its configuration is writable by others.
import assert from 'node:assert/strict';
import { chmodSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { homePermissionWarnings } from '../../dist/daemon/permissions.js';
import { openHome } from '../../dist/store/home.js';
import { ProcessTracker, makeHome, readJsonl, removeHome, run, waitFor } from '../helpers/index.js';
import { events, startDaemon, stopDaemon } from '../helpers/daemon.js';

describe('home permission warnings', () => {
  let home;
  let paths;
  let tracker;
  let daemon;
  beforeEach(() => {
    tracker = new ProcessTracker();
    home = makeHome(undefined, { daemonConfig: { loop_interval_seconds: 5 } });
    paths = openHome(home);
    // A known starting point whatever the umask: owner-only writes everywhere.
    for (const dir of [paths.home, paths.coordination, paths.config]) chmodSync(dir, 0o755);
    for (const file of [paths.workerTypes, paths.daemonConfig]) chmodSync(file, 0o644);
  });
  afterEach(async () => {
    if (daemon) await stopDaemon(daemon, 'SIGKILL');
    daemon = undefined;
    tracker.killHome(home);
    tracker.cleanup();
    removeHome(home);
  });

  test('none for a home only its owner can write', () => {
    assert.deepEqual(homePermissionWarnings(paths), []);
  });

  const cases = [
    ['the home, world-writable', () => paths.home, 0o777, /writable by its group and others \(mode 777\)/],
    ['coordination/, group-writable', () => paths.coordination, 0o775, /writable by its group \(mode 775\)/],
    ['coordination/config/, other-writable', () => paths.config, 0o757, /writable by others \(mode 757\)/],
    ['worker-types.json, world-writable', () => paths.workerTypes, 0o666, /writable by its group and others \(mode 666\)/],
    ['pm-daemon.json, group-writable', () => paths.daemonConfig, 0o664, /writable by its group \(mode 664\)/],
    ['the home, sticky and world-writable like /tmp', () => paths.home, 0o1777, /mode 777/],
  ];
  for (const [name, path, mode, message] of cases) {
    test(`one warning for ${name}`, () => {
      chmodSync(path(), mode);
      const warnings = homePermissionWarnings(paths);
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0].path, path());
      assert.match(warnings[0].message, message);
      assert.match(warnings[0].message, /chmod go-w/);
    });
  }

  test('a missing pm-daemon.json is not a warning; a config file reached through a link is checked at its target', () => {
    writeFileSync(join(home, 'types-elsewhere.json'), '{"worker_types":{"fixture":{"command":["true"]}}}');
    chmodSync(join(home, 'types-elsewhere.json'), 0o666);
    rmSync(paths.daemonConfig);
    rmSync(paths.workerTypes);
    symlinkSync(join(home, 'types-elsewhere.json'), paths.workerTypes);
    const warnings = homePermissionWarnings(paths);
    assert.deepEqual(warnings.map((w) => w.path), [paths.workerTypes]);
    assert.match(warnings[0].message, /mode 666/);
  });

  test('the daemon logs a daemon_warning event and a pino warning at start, and runs on', async () => {
    chmodSync(paths.workerTypes, 0o666);
    chmodSync(paths.coordination, 0o777);
    daemon = await startDaemon(home, { tracker });
    const warnings = events(home).filter((e) => e.event === 'daemon_warning');
    assert.deepEqual(warnings.map((e) => e.data.path).sort(), [paths.coordination, paths.workerTypes].sort());
    assert.ok(warnings.every((e) => e.data.warning === 'writable_by_others' && /chmod go-w/.test(e.data.message)));
    await waitFor(() => readJsonl(paths.daemonLog).filter((l) => l.level === 40 && /writable by/.test(l.msg)).length === 2, { what: 'two pino warnings' });
    assert.equal(daemon.child.exitCode, null);
  });

  test('pm-daemon --once on a clean home warns about nothing', async () => {
    const result = await run(home, ['pm-daemon', '--once', '--quiet']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(events(home).filter((e) => e.event === 'daemon_warning').length, 0);
  });
});
