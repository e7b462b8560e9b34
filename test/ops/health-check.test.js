import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { readIdentity } from '../../dist/process/identity.js';
import { assessDaemonHealth, maxPassAgeSeconds } from '../../dist/ops/daemon-health.js';
import { writePidFile, writePmState } from '../helpers/daemon.js';
import { CLI, coord, defined, readJson, run, waitFor } from '../helpers/home.js';
import { spawnUnrelated } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { snapshotTree } from '../helpers/snapshots.js';

const NOW = Date.parse('2025-11-21T12:00:00.000Z');
const ago = (s) => new Date(NOW - s * 1000).toISOString();
const record = (fields = {}) => ({ pid: 77, process_start_ticks: 1, boot_id: 'b', host: 'h', started_at: ago(600), home: '/h', loop_interval_seconds: 5, ...fields });
const assess = (process, rec, daemon, pidFileExists = true) =>
  assessDaemonHealth({
    liveness: { record: rec, process },
    pidFileExists,
    pmState: daemon === undefined ? undefined : { daemon, workers: {}, metrics: {}, configuration: {} },
    now: NOW,
    pidFileName: 'coordination/pm-daemon.pid.json',
  });

describe('assessDaemonHealth (pure)', () => {
  test('the pass-age limit is max(3 loop intervals, 15 s), inclusive', () => {
    assert.equal(maxPassAgeSeconds(1), 15);
    assert.equal(maxPassAgeSeconds(5), 15);
    assert.equal(maxPassAgeSeconds(10), 30);
    const rec = record({ loop_interval_seconds: 10 });
    assert.equal(assess('alive', rec, { pid: 77, last_loop: ago(30) }).state, 'healthy');
    assert.equal(assess('alive', rec, { pid: 77, last_loop: ago(31) }).state, 'passes_stopped');
    assert.equal(assess('alive', record(), { pid: 77, last_loop: ago(15) }).state, 'healthy');
    assert.equal(assess('alive', record(), { pid: 77, last_loop: ago(16) }).state, 'passes_stopped');
  });

  const cases = [
    { name: 'no pid file', args: ['absent', undefined, undefined, false], state: 'not_running', running: false, message: /not running: no pid file/ },
    { name: 'an unreadable pid file', args: ['absent', undefined, undefined, true], state: 'stale_pid', running: false, message: /stale pid file \(.* is unreadable\)/ },
    { name: 'the process is gone', args: ['gone', record(), { pid: 77, last_loop: ago(1) }], state: 'stale_pid', running: false, message: /stale pid file \(process 77 is gone/ },
    { name: 'the pid is reused', args: ['reused', record(), { pid: 77, last_loop: ago(1) }], state: 'stale_pid', running: false, message: /pid 77 now belongs to another process/ },
    { name: 'just started, no pass yet', args: ['alive', record({ started_at: ago(3) }), undefined], state: 'starting', running: true, message: /starting .* no pass completed yet/ },
    { name: 'no pass long after the start', args: ['alive', record(), undefined], state: 'passes_stopped', running: true, message: /no pass completed since it started 10m ago/ },
    { name: 'pm-state of an earlier daemon', args: ['alive', record(), { pid: 12, last_loop: ago(1) }], state: 'passes_stopped', running: true, message: /no pass completed since it started/ },
    { name: 'a pass older than the start', args: ['alive', record({ started_at: ago(5) }), { pid: 77, last_loop: ago(50) }], state: 'starting', running: true, message: /starting/ },
    { name: 'a fresh pass', args: ['alive', record(), { pid: 77, last_loop: ago(2), loops_completed: 120 }], state: 'healthy', running: true, message: /healthy \(pid 77, up 10m\): last pass 2s ago, 120 passes/ },
  ];
  test('a daemon passing with a worker-types.json that does not load: config_invalid, not ok, the reason and the version in force named', () => {
    const bad = { status: 'invalid', error: '/h/coordination/config/worker-types.json: not valid JSON', invalid_since: ago(40), version: 'abc', loaded_at: ago(3600), removed_types: {} };
    const health = assessDaemonHealth({
      liveness: { record: record(), process: 'alive' },
      pidFileExists: true,
      pmState: { daemon: { pid: 77, last_loop: ago(2) }, workers: {}, metrics: {}, configuration: { worker_types_file: bad } },
      now: NOW,
      pidFileName: 'coordination/pm-daemon.pid.json',
    });
    assert.equal(health.state, 'config_invalid');
    assert.equal(health.ok, false);
    assert.equal(health.running, true);
    assert.equal(health.message, `pm-daemon running (pid 77, up 10m, last pass 2s ago) but worker-types.json does not load since ${ago(40)}: ${bad.error}; the last good version (loaded ${ago(3600)}) stays in force until it is fixed`);
    assert.equal(health.worker_types_file?.version, 'abc');
    // Loading again (or an older daemon that does not say): healthy.
    const fine = assessDaemonHealth({
      liveness: { record: record(), process: 'alive' },
      pidFileExists: true,
      pmState: { daemon: { pid: 77, last_loop: ago(2) }, workers: {}, metrics: {}, configuration: { worker_types_file: { ...bad, status: 'ok', error: null, removed_types: { gone: {} } } } },
      now: NOW,
      pidFileName: 'coordination/pm-daemon.pid.json',
    });
    assert.equal(fine.state, 'healthy');
    assert.deepEqual(fine.worker_types_file?.removed_types, ['gone']);
    assert.equal(assess('alive', record(), { pid: 77, last_loop: ago(2) }).worker_types_file, null);
  });

  for (const c of cases) {
    test(c.name, () => {
      const health = assess(...c.args);
      assert.equal(health.state, c.state);
      assert.equal(health.running, c.running);
      assert.equal(health.ok, c.state === 'healthy');
      assert.match(health.message, c.message);
      assert.doesNotMatch(health.message, /\n/);
    });
  }
});

describe('health-check command', () => {
  const check = (home, args = []) => run(home, args, { script: 'health-check-pm-daemon.sh' });
  const oneLine = (out) => {
    assert.equal(out.trimEnd().split('\n').length, 1, `expected one line, got: ${out}`);
    return out.trim();
  };

  test('fails with no daemon, and looking changes nothing', () => withHome({}, async ({ home }) => {
    const before = snapshotTree(home);
    const result = await check(home);
    assert.equal(result.code, 3);
    assert.match(oneLine(result.stdout), /^pm-daemon not running: no pid file \(coordination\/pm-daemon\.pid\.json\)$/);
    assert.deepEqual(snapshotTree(home), before);
  }));

  test('fails with a stale pid file: the process was killed', () => withHome({}, async ({ home, tracker }) => {
    const pid = spawnUnrelated(tracker);
    writePidFile(home, pid);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => readIdentity(pid) === undefined, { what: 'the fixture to end' });
    writePmState(home, { pid });
    const result = await check(home);
    assert.equal(result.code, 3);
    assert.match(oneLine(result.stdout), new RegExp(`stale pid file \\(process ${pid} is gone`));
  }));

  test('fails with a stale pid file: the pid belongs to another process', () => withHome({}, async ({ home, tracker }) => {
    const pid = spawnUnrelated(tracker);
    const identity = defined(readIdentity(pid), `the identity of ${pid}`);
    writePidFile(home, pid, { process_start_ticks: identity.startTicks + 4242 });
    writePmState(home, { pid });
    const result = await check(home, ['--json']);
    assert.equal(result.code, 3);
    const json = JSON.parse(result.stdout);
    assert.equal(json.state, 'stale_pid');
    assert.equal(json.running, false);
    assert.match(json.message, new RegExp(`pid ${pid} now belongs to another process`));
  }));

  test('passes when the pid file names a live process with its identity and the last pass is fresh; fails when passes stop', () => withHome({}, async ({ home, tracker }) => {
    const pid = spawnUnrelated(tracker);
    writePidFile(home, pid);
    writePmState(home, { pid, lastLoop: new Date().toISOString(), loops: 42 });
    const ok = await check(home);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(oneLine(ok.stdout), new RegExp(`^pm-daemon healthy \\(pid ${pid}, up 1m\\): last pass \\d+s ago, 42 passes$`));

    writePmState(home, { pid, lastLoop: new Date(Date.now() - 60_000).toISOString() });
    const stale = await check(home);
    assert.equal(stale.code, 1);
    assert.match(oneLine(stale.stdout), /but passes stopped: last pass 6\ds ago \(limit 15s\)$/);

    // --restart never starts a second daemon beside one that still runs.
    const restart = await check(home, ['--restart']);
    assert.equal(restart.code, 1);
    assert.match(oneLine(restart.stdout), new RegExp(`not restarting a daemon that still runs: stop it first \\(kill ${pid}\\)`));
    assert.equal(readJson(coord(home, 'pm-daemon.pid.json')).pid, pid);
  }));

  test('bad input is refused with one line', () => withHome({}, async ({ home }) => {
    const result = await run(home, ['health-check', '--wait', '-1']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--wait must be a positive number/);
  }));

  test('--restart starts a daemon in the background when it is down', { timeout: 60_000 }, (t) => withHome({}, async ({ home, tracker }) => {
    try {
      execFileSync(process.execPath, [CLI, 'pm-daemon', '--help'], { stdio: 'ignore', timeout: 15_000 });
    } catch {
      t.skip('the pm-daemon command does not exist yet (dist/cli/main.js pm-daemon --help fails)');
      return;
    }
    writeFileSync(coord(home, 'pm-daemon.pid.json'), '{"pid": "garbage"');
    try {
      const result = await check(home, ['--restart', '--wait', '30']);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(oneLine(result.stdout), /stale pid file .*; started a new one: pm-daemon healthy \(pid \d+/);
      const again = await check(home);
      assert.equal(again.code, 0);
    } finally {
      const rec = (() => {
        try {
          return readJson(coord(home, 'pm-daemon.pid.json'));
        } catch {
          return undefined;
        }
      })();
      if (rec?.pid) tracker.group(rec.pid);
    }
  }));
});
