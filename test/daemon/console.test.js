// The daemon's console (pm-daemon.sh in a terminal): one line per event with what a person needs; and --version on every command.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { formatEventForConsole } from '../../dist/daemon/console.js';
import { CLI, removeHome, makeHome, ROOT, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';

const AT = new Date('2025-11-21T10:00:00.000Z');
/** @param {import('../../dist/contract/activity.js').KnownEvent} event @param {Record<string, unknown>} data @param {string} [worker_id] */
const line = (event, data, worker_id = 'worker-7') => formatEventForConsole({ event, worker_id, data }, AT);

describe('daemon console lines', () => {
  test('a timeout warning says elapsed and limit; an exit says the decision; alerts say type and message', () => {
    assert.equal(line('timeout_warning', { percent: 75, elapsed_seconds: 2700, limit_seconds: 3600, reason: 'last check-in 5s ago' }), '10:00:00  timeout_warning      worker-7  ran 45m of its 1h00m time limit (75%)');
    assert.match(line('worker_exited', { exit_code: 1, signal: null, stop_reason: null, cause: 'crash', decision: 'restart', restart_count: 2, delay_ms: 5000 }), /worker_exited +worker-7 {2}exit code 1 \[crash\] -> restart #2 in 5s$/);
    assert.match(line('worker_exited', { exit_code: 0, signal: null, decision: 'complete' }), / {2}exit code 0 -> completed$/);
    assert.match(line('worker_exited', { exit_code: null, signal: 'SIGTERM', stop_reason: 'time_limit', decision: 'fail', error: 'over its time limit' }), / {2}signal SIGTERM \(stopped: time_limit\) -> failed: over its time limit$/);
    assert.match(line('worker_exited', { exit_code: 1, signal: null, decision: 'rate_limit_wait', delay_ms: 90_000 }), /-> rate limited: restart in 1m \(not counted as a restart\)$/);
    assert.match(line('alert_raised', { type: 'queue_depth', severity: 'warning', message: '51 tasks queued (above 50)' }, ''), /^10:00:00 {2}alert_raised +WARNING queue_depth: 51 tasks queued \(above 50\)$/);
    assert.match(line('alert_resolved', { type: 'zombie_threshold', severity: 'critical', message: '12 zombie workers' }, ''), /CRITICAL zombie_threshold: 12 zombie workers \(resolved\)$/);
    assert.match(
      line('memory_limit_exceeded', { rss_bytes: 90 * 1048576, limit_bytes: 50 * 1048576, processes: 2, biggest_rss_bytes: 85 * 1048576, biggest_command: 'node hog.js' }),
      /memory_limit_exceeded worker-7 {2}run uses 90 MiB in 2 processes, over its 50 MiB limit; biggest: 85 MiB node hog.js -> stopped$/,
    );
    assert.match(line('notification_failed', { sink: 'webhook', for_event: 'worker_failed', error: 'the webhook answered HTTP 500' }), /notification_failed +worker-7 {2}error=the webhook answered HTTP 500 sink=webhook for_event=worker_failed$/);
    assert.match(line('pm_started', { pid: 42, adopted: 3, worker_types: ['a', 'b'], loop_interval_seconds: 5, took_over_from: null }, ''), /pm_started +pid 42, adopted 3 running workers, 2 worker types, a full pass every 5s$/);
  });

  test('a long message keeps its start and its end, on one line; a long list is counted', () => {
    const error = `gave up: ${'x'.repeat(400)}\nexit code 137 (OOM killed)`;
    const text = line('worker_failed', { error });
    assert.ok(!text.includes('\n'));
    assert.match(text, /error=gave up: x+…x+ exit code 137 \(OOM killed\)$/);
    assert.ok(text.length < 300, `${text.length} characters`);
    assert.match(line('actions_held', { running_worker_ids: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] }), /running_worker_ids=a,b,c,d,e \(\+2 more\)/);
  });
});

test('--version on every command and script prints the package version, exit 0', async () => {
  const { version } = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8'));
  const home = makeHome();
  try {
    const runs = await Promise.all([
      run(home, ['--version']),
      run(home, ['stop-worker', '--version']),
      run(home, ['--version'], { script: 'stop-worker.sh' }),
      run(home, ['--version'], { script: 'dashboards/daemon-monitor.sh' }),
      run(home, ['--version'], { script: 'checkin.sh' }),
      run(home, ['--version'], { script: 'hooks/claude-code.sh' }),
      run(home, ['--version'], { script: 'pm-daemon.sh' }),
    ]);
    for (const r of runs) assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${version}\n`, '']);
  } finally {
    removeHome(home);
  }
});

test('pm-daemon.sh (the lean entry, dist/bin/pm-daemon.js) refuses bad flags as `commit-relay pm-daemon` does, one line, exit 2, nothing made', async () => {
  const home = makeHome();
  try {
    const bad = [['--interval', 'abc'], ['--interval'], ['--interval=0'], ['--interval', ''], ['--interval', '-x'], ['--concurrency', '1.5'], ['--concurrency', '--once'], ['--bogus'], ['extra'], ['--interval', '2', '--interval', '3'], ['--once', 'true', 'extra']];
    for (const args of bad) {
      const [lean, full] = await Promise.all([run(home, args, { script: 'pm-daemon.sh' }), run(home, ['pm-daemon', ...args])]);
      assert.equal(lean.code, 2, `${args.join(' ')}: ${lean.stderr}`);
      assert.match(lean.stderr, /^commit-relay: [^\n]+\n$/, args.join(' '));
      assert.deepEqual([lean.code, lean.stdout, lean.stderr], [full.code, full.stdout, full.stderr], args.join(' '));
    }
    // Stricter than yargs, which takes the last of a repeated switch and any word after '=' as true.
    for (const args of [['--once', '--once'], ['--quiet=maybe']]) {
      const lean = await run(home, args, { script: 'pm-daemon.sh' });
      assert.deepEqual([lean.code, lean.stdout], [2, ''], args.join(' '));
      assert.match(lean.stderr, /^commit-relay: --(once was given more than once|quiet takes no value, got --quiet=maybe)\n$/);
    }
    assert.ok(!existsSync(join(home, 'coordination', 'pm-daemon.pid.json')), 'no daemon claimed the home');
    const help = await run(home, ['--bogus', '--help'], { script: 'pm-daemon.sh' });
    assert.equal(help.code, 0);
    for (const flag of ['--once', '--demo', '--quiet', '--interval', '--concurrency']) assert.ok(help.stdout.includes(flag), flag);
    // One full pass and out, through the lean entry: --quiet false prints the events, --once true ends it with exit 0.
    const once = await run(home, ['--once', 'true', '--quiet', 'false', '--concurrency=0'], { script: 'pm-daemon.sh' });
    assert.equal(once.code, 0, once.stderr);
    assert.match(once.stdout, /pm_started /);
    assert.match(once.stdout, /pm_stopped /);
  } finally {
    removeHome(home);
  }
});

test('a daemon whose metrics port is taken stops (pm_stopped, the home released) and says why in one line, exit non-zero', async () => {
  const blocker = createServer();
  await new Promise((resolve) => blocker.listen(0, '127.0.0.1', () => resolve(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (blocker.address()).port;
  const home = makeHome(undefined, { daemonConfig: { metrics: { enabled: true, port } } });
  try {
    const result = await run(home, ['--quiet'], { script: 'pm-daemon.sh', timeoutMs: 20_000 });
    assert.equal(result.signal, null, 'it ended by itself');
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /^commit-relay: [^\n]*in use[^\n]*\n$/);
    const stopped = readFileSync(join(home, 'coordination', 'pm-activity.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'pm_stopped');
    assert.equal(stopped.length, 1);
    assert.ok(!existsSync(join(home, 'coordination', 'pm-daemon.pid.json')), 'the home is released');
  } finally {
    blocker.close();
    removeHome(home);
  }
});

test('the console prints every event of pm-activity.jsonl, whoever appended it (a command, emit-event), and the daemon\'s own once', () =>
  // A webhook that cannot be reached: its failure for dispatch_paused comes at the stop (a retry a second later), and is still shown.
  withHome({ daemonConfig: { notifications: { events: ['dispatch_paused'], webhook: { url: 'http://127.0.0.1:1/hook' } } } }, async (t) => {
    const child = spawn(process.execPath, [CLI, 'pm-daemon'], { env: { ...process.env, COMMIT_RELAY_HOME: t.home, PM_LOOP_INTERVAL: '0.5' }, stdio: ['ignore', 'pipe', 'pipe'] });
    t.tracker.pid(child.pid);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(() => /pm_started /.test(out), { what: 'pm_started on the console' });
    const [paused, emitted] = await Promise.all([run(t.home, ['pause-dispatch', '--reason', 'maintenance']), run(t.home, ['emit-event', '--type', 'custom_thing', '--worker-id', 'w-9', '--message', 'hello'])]);
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(emitted.code, 0, emitted.stderr);
    await waitFor(() => /dispatch_paused .*reason=maintenance/.test(out) && /custom_thing +w-9 {2}message=hello/.test(out), { what: 'the commands\' events on the console', timeoutMs: 5000 });
    child.kill('SIGTERM');
    await exited;
    assert.equal(out.match(/ pm_started /g)?.length, 1, out);
    assert.equal(out.match(/ pm_stopped /g)?.length, 1, out);
    assert.match(out, /notification_failed +error=the webhook post failed: .* sink=webhook for_event=dispatch_paused$/m);
  }));

test('pm-daemon.sh runs the bundled daemon (dist/bundle/pm-daemon.js, made by the build) when it is there', () =>
  withHome({}, async (t) => {
    assert.ok(existsSync(join(ROOT, 'dist', 'bundle', 'pm-daemon.js')), 'the build made the bundle (esbuild is a devDependency)');
    const child = spawn('/bin/sh', [join(ROOT, 'scripts', 'pm-daemon.sh'), '--quiet'], { env: { ...process.env, COMMIT_RELAY_HOME: t.home }, stdio: ['ignore', 'ignore', 'pipe'] });
    t.tracker.pid(child.pid);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(() => existsSync(join(t.home, 'coordination', 'pm-state.json')), { what: 'the daemon\'s first pass' });
    // pm-daemon.sh execs node: the same pid runs the bundle.
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.includes(join(ROOT, 'dist', 'bundle', 'pm-daemon.js')), argv.join(' '));
    child.kill('SIGTERM');
    await exited;
    const events = readFileSync(join(t.home, 'coordination', 'pm-activity.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).event);
    assert.deepEqual([events.includes('pm_started'), events.at(-1)], [true, 'pm_stopped']);
  }));
