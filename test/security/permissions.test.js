// The daemon warns at start when the home or its configuration is writable by others.
import assert from 'node:assert/strict';
import { chmodSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { homePermissionWarnings } from '../../dist/daemon/permissions.js';
import { openHome } from '../../dist/store/home.js';
import { events } from '../helpers/daemon.js';
import { readJsonl, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';

/** withHome, its layout made and every folder and file of it writable by its owner only, whatever the umask. */
const withOwnerOnlyHome = (body) =>
  withHome({ daemonConfig: { loop_interval_seconds: 5 } }, (scope) => {
    const paths = openHome(scope.home);
    for (const dir of [paths.home, paths.coordination, paths.config]) chmodSync(dir, 0o755);
    for (const file of [paths.workerTypes, paths.daemonConfig]) chmodSync(file, 0o644);
    return body({ ...scope, paths });
  });

describe('home permission warnings', () => {
  test('none for a home only its owner can write', () => withOwnerOnlyHome(async ({ paths }) => {
    assert.deepEqual(homePermissionWarnings(paths), []);
  }));

  /** @type {Array<[string, (paths: import('../../dist/store/home.js').HomePaths) => string, number, RegExp]>} */
  const cases = [
    ['the home, world-writable', (paths) => paths.home, 0o777, /writable by its group and others \(mode 777\)/],
    ['coordination/, group-writable', (paths) => paths.coordination, 0o775, /writable by its group \(mode 775\)/],
    ['coordination/config/, other-writable', (paths) => paths.config, 0o757, /writable by others \(mode 757\)/],
    ['worker-types.json, world-writable', (paths) => paths.workerTypes, 0o666, /writable by its group and others \(mode 666\)/],
    ['pm-daemon.json, group-writable', (paths) => paths.daemonConfig, 0o664, /writable by its group \(mode 664\)/],
    ['the home, sticky and world-writable like /tmp', (paths) => paths.home, 0o1777, /mode 777/],
  ];
  for (const [name, path, mode, message] of cases) {
    test(`one warning for ${name}`, () => withOwnerOnlyHome(async ({ paths }) => {
      chmodSync(path(paths), mode);
      const warnings = homePermissionWarnings(paths);
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0].path, path(paths));
      assert.match(warnings[0].message, message);
      assert.match(warnings[0].message, /chmod go-w/);
    }));
  }

  test('a missing pm-daemon.json is not a warning; a config file reached through a link is checked at its target', () => withOwnerOnlyHome(async ({ home, paths }) => {
    writeFileSync(join(home, 'types-elsewhere.json'), '{"worker_types":{"fixture":{"command":["true"]}}}');
    chmodSync(join(home, 'types-elsewhere.json'), 0o666);
    rmSync(paths.daemonConfig);
    rmSync(paths.workerTypes);
    symlinkSync(join(home, 'types-elsewhere.json'), paths.workerTypes);
    const warnings = homePermissionWarnings(paths);
    assert.deepEqual(warnings.map((w) => w.path), [paths.workerTypes]);
    assert.match(warnings[0].message, /mode 666/);
  }));

  test('the daemon logs a daemon_warning event and a pino warning at start, and runs on', () => withOwnerOnlyHome(async ({ home, paths, startDaemon }) => {
    chmodSync(paths.workerTypes, 0o666);
    chmodSync(paths.coordination, 0o777);
    const daemon = await startDaemon();
    const warnings = events(home).filter((e) => e.event === 'daemon_warning');
    assert.deepEqual(warnings.map((e) => e.data.path).sort(), [paths.coordination, paths.workerTypes].sort());
    assert.ok(warnings.every((e) => e.data.warning === 'writable_by_others' && /chmod go-w/.test(e.data.message)));
    await waitFor(() => readJsonl(paths.daemonLog).filter((l) => l.level === 40 && /writable by/.test(l.msg)).length === 2, { what: 'two pino warnings' });
    assert.equal(daemon.child.exitCode, null);
  }));

  test('pm-daemon --once on a clean home warns about nothing', () => withOwnerOnlyHome(async ({ home }) => {
    const result = await run(home, ['pm-daemon', '--once', '--quiet']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(events(home).filter((e) => e.event === 'daemon_warning').length, 0);
  }));
});
