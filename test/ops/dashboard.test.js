import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { assessDaemonHealth } from '../../dist/ops/daemon-health.js';
import { buildDashboardModel, collectDashboardModel, TROUBLE_ORDER } from '../../dist/ops/dashboard-model.js';
import { buildTask, enqueueTask } from '../../dist/store/tasks.js';
import { renderDashboard } from '../../dist/ops/dashboard-render.js';
import { formatDuration, truncateMiddle } from '../../dist/ops/format.js';
import { CSI, stripAnsi } from './support.js';
import { utimesSync, writeFileSync } from 'node:fs';
import { writePidFile, writePmState } from '../helpers/daemon.js';
import { CLI, coord, defined, run, waitFor } from '../helpers/home.js';
import { isLive, spawnUnrelated } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { snapshotTree } from '../helpers/snapshots.js';
import { readSpecFile, runningSpec, writePendingSpec, writeSpecFile } from '../helpers/specs.js';

const NOW = Date.parse('2025-11-21T12:00:00.000Z');
const ago = (s) => new Date(NOW - s * 1000).toISOString();
const HEALTHS = ['healthy', 'healthy', 'starting', 'late', 'stalled', 'zombie', 'backoff', 'exited'];

const runningDaemon = assessDaemonHealth({
  liveness: { record: { pid: 4242, process_start_ticks: 1, boot_id: 'b', host: 'h', started_at: ago(7380), home: '/h', loop_interval_seconds: 5 }, process: 'alive' },
  pidFileExists: true,
  pmState: { daemon: { pid: 4242, last_loop: ago(2), loops_completed: 1532 }, workers: {}, metrics: {}, configuration: {} },
  now: NOW,
  pidFileName: 'coordination/pm-daemon.pid.json',
});
const stoppedDaemon = assessDaemonHealth({ liveness: { record: undefined, process: 'absent' }, pidFileExists: false, pmState: undefined, now: NOW, pidFileName: 'coordination/pm-daemon.pid.json' });

function fleet(n) {
  const specs = [];
  /** @type {Record<string, import('../../dist/ops/pm-state-view.js').PmStateView['workers'][string]>} */
  const workers = {};
  const checkins = new Map();
  for (let i = 0; i < n; i++) {
    const id = `worker-implementation-20251121-120000-${(0xa00000 + i).toString(16)}`;
    const health = HEALTHS[i % HEALTHS.length];
    const pending = health === 'backoff';
    specs.push(
      runningSpec(id, {
        worker_type: i % 2 ? 'implementation' : 'review',
        status: pending ? 'pending' : 'running',
        execution: pending ? { restart_count: 2, next_restart_at: new Date(NOW + 25_000).toISOString() } : { pid: 100000 + i, started_at: ago(3600 + i), restart_count: i % 3 },
        task: { description: `Task ${i}: implement the\nfrobnicator's ${'widget '.repeat(i % 5)}end-${i}` },
      }),
    );
    workers[id] = { worker_id: id, health_state: health, last_checkin: ago(30 + i), progress_pct: i % 101, restart_count: i % 3, ...(pending ? {} : { resources: { cpu_percent: i % 7 === 0 ? null : 12.4, rss_bytes: (i + 1) * 50 * 1048576, processes: 2, sampled_at: ago(1) } }) };
    if (i % 4 === 0) checkins.set(id, { worker_id: id, timestamp: ago(5), status: 'in_progress', progress_pct: 55, message: 'working' });
  }
  return { specs, pmState: { daemon: { pid: 4242 }, workers, metrics: {}, configuration: {} }, checkins };
}

function model(n, daemon = runningDaemon, extra = {}) {
  const f = fleet(n);
  return buildDashboardModel({ home: '/var/lib/commit-relay/a/very/long/home/path/that/goes/on/and/on', now: NOW, daemon, queueDepth: 12, alerts: [], problems: [], ...f, ...extra });
}

const widest = (text) => Math.max(...stripAnsi(text).split('\n').map((l) => l.length));

describe('dashboard: worker-types.json in trouble', () => {
  /** @param {Record<string, unknown>} file */
  const daemonWith = (file) =>
    assessDaemonHealth({
      liveness: { record: { pid: 4242, process_start_ticks: 1, boot_id: 'b', host: 'h', started_at: ago(7380), home: '/h', loop_interval_seconds: 5 }, process: 'alive' },
      pidFileExists: true,
      pmState: { daemon: { pid: 4242, last_loop: ago(2), loops_completed: 1532 }, workers: {}, metrics: {}, configuration: { worker_types_file: file } },
      now: NOW,
      pidFileName: 'coordination/pm-daemon.pid.json',
    });
  const base = { status: 'ok', error: null, invalid_since: null, version: 'abc', loaded_at: ago(3600), removed_types: {} };

  test('a file that does not load: the daemon line says so, a config line gives the reason and what is in force', () => {
    const text = stripAnsi(renderDashboard(model(2, daemonWith({ ...base, status: 'invalid', error: 'worker-types.json: not valid JSON', invalid_since: ago(40) })), { width: 200, color: false }));
    assert.match(text, /^daemon +running, config invalid/m);
    assert.match(text, /^config +worker-types\.json INVALID since .*: worker-types\.json: not valid JSON; the last good version \(loaded .*\) stays in force/m);
  });

  test('a removed type still named by workers: a config line names it; all well: no config line', () => {
    const removed = stripAnsi(renderDashboard(model(2, daemonWith({ ...base, removed_types: { review: { worker_ids: ['w'], queued_task_ids: [] } } })), { width: 160, color: false }));
    assert.match(removed, /^daemon +running/m);
    assert.match(removed, /^config +worker types no longer in worker-types\.json.*: review/m);
    const fine = stripAnsi(renderDashboard(model(2, daemonWith(base)), { width: 160, color: false }));
    assert.doesNotMatch(fine, /^config/m);
  });
});

describe('dashboard rendering (pure)', () => {
  for (const n of [0, 1, 200]) {
    test(`${n} worker(s): a terminal's width fits, with and without colour; not a terminal, nothing is cut`, () => {
      const m = model(n);
      for (const width of [80, 132]) {
        const plain = renderDashboard(m, { width });
        const colored = renderDashboard(m, { width, color: true });
        assert.ok(widest(plain) <= width, plain);
        assert.ok(widest(colored) <= width);
        assert.equal(stripAnsi(colored), plain);
        assert.ok(!plain.includes(CSI));
        if (n > 0) assert.ok(colored.includes(CSI));
        const rows = plain.split('\n').filter((l) => /^worker[-…]/.test(l));
        assert.equal(rows.length, n);
        // The task beside each worker, cut to the column.
        for (const row of rows) assert.match(row, / Task \d+: impl/);
        assert.match(plain, /daemon {3}running {2}pid 4242 {2}up 2h03m {2}last pass 2s ago {2}passes 1532/);
        assert.match(plain, /queue 12 queued/);
        if (n === 0) assert.match(plain, /no active workers/);
      }
      const wide = renderDashboard(m, { wide: true, width: 80 });
      const rows = wide.split('\n').filter((l) => /^worker[-…]/.test(l));
      assert.equal(rows.length, n);
      for (const w of m.workers) {
        const row = defined(rows.find((r) => r.startsWith(`${w.worker_id} `)), `the whole id ${w.worker_id}`);
        assert.ok(row.endsWith(w.description.replace(/\s+/g, ' ')), `the whole description in ${row}`);
      }
      assert.ok(!wide.includes('…'), 'nothing cut');
      if (n > 0) assert.match(wide, /^WORKER +TYPE +STATUS +HEALTH +PID +UP +RST +CHKIN +PROG +NEXT +CPU +MEM +TASK$/m);
      if (n > 1) {
        assert.match(wide, /^WORKER +TYPE +STATUS +HEALTH +PID +UP +RST +CHKIN +PROG +NEXT +CPU +MEM +TASK$/m);
        assert.match(wide, / 12% +100M Task 1: /, 'CPU% and MEM (MiB) of a sampled worker');
        assert.equal(m.workers.find((w) => w.worker_id.endsWith('a00001'))?.rss_bytes, 100 * 1048576);
      }
    });
  }

  test('recently ended workers below the active ones; a stopped daemon\'s dead worker shows exited, with no pid', () => {
    const ended = [];
    for (let i = 0; i < 14; i++) {
      const failed = i % 3 === 0;
      const spec = runningSpec(`ended-${i}`, { status: failed ? 'failed' : 'completed', error: failed ? `gave up after 3 restarts (#${i})` : null, task: { description: `ended task ${i}` }, execution: { pid: null, exit_code: failed ? 1 : 0, completed_at: i === 13 ? null : ago(60 * (i + 1)) } });
      ended.push({ spec, mtimeMs: NOW - 30_000 });
    }
    const f = fleet(3);
    const liveness = new Map(f.specs.filter((s) => s.status === 'running').map((s, i) => [s.worker_id, i === 0 ? 'gone' : 'alive']));
    const m = buildDashboardModel({ home: '/h', now: NOW, daemon: stoppedDaemon, queueDepth: 0, alerts: [], problems: [], ...f, ended, liveness: /** @type {Map<string, 'alive' | 'gone'>} */ (liveness) });
    assert.equal(m.recent.length, 10);
    // Newest first; the one with no completed_at dated by its file's mtime (30 s ago).
    assert.deepEqual(m.recent.slice(0, 3).map((r) => [r.worker_id, r.status]), [['ended-13', 'completed'], ['ended-0', 'failed'], ['ended-1', 'completed']]);
    assert.deepEqual(m.recent[1], { worker_id: 'ended-0', worker_type: 'fixture', task_id: 'task-ended-0', description: 'ended task 0', status: 'failed', ended_at: ago(60), ended_age_seconds: 60, exit_code: 1, signal: null, error: 'gave up after 3 restarts (#0)' });
    const dead = defined(m.workers.find((w) => w.liveness === 'gone'), 'the dead worker');
    assert.deepEqual([dead.status, dead.health_state, dead.pid, dead.uptime_seconds, dead.cpu_percent], ['running', 'exited', null, null, null]);
    assert.ok(m.health_stale && m.liveness_checked);
    assert.equal(m.totals.by_status.exited, 1);
    const alive = defined(m.workers.find((w) => w.liveness === 'alive'), 'the live worker');
    assert.notEqual(alive.pid, null);
    for (const text of [renderDashboard(m, { width: 80 }), renderDashboard(m, { wide: true })]) {
      assert.match(text, /^recent {3}completed ended-13 +30s ago {2}exit 0: ended task 13$/m);
      assert.match(text, /^ {9}failed {4}ended-0 +1m ago {2}gave up after 3 restarts \(#0\): ended t/m);
      assert.equal(text.split('\n').filter((l) => / ended-\d+ /.test(l)).length, 10);
      assert.match(text, new RegExp(`^${dead.worker_id.slice(0, 6)}\\S* +review +exited +exited `, 'm'));
      assert.match(text, /1 exited\)/);
      assert.match(text, /processes checked now/);
    }
  });

  test('rows are sorted trouble first, ids cut in the middle with …', () => {
    const m = model(16);
    const states = m.workers.map((w) => w.health_state);
    const ranks = states.map((s) => TROUBLE_ORDER.indexOf(/** @type {(typeof TROUBLE_ORDER)[number]} */ (s)));
    assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b));
    assert.equal(states[0], 'zombie');
    assert.equal(states.at(-1), 'healthy');
    const text = renderDashboard(m, { width: 80 });
    const firstRow = defined(text.split('\n').find((l) => /^worker[-…]/.test(l)), 'a worker row');
    assert.match(firstRow, /…/);
    assert.match(firstRow, / zombie /);
    assert.match(text, /health {3}2 zombie, 2 stalled, 2 late, 2 backoff, 2 exited, 2 starting, 4 healthy/);
  });

  test('a wider terminal shows whole ids; maxRows counts the rest', () => {
    const m = model(200);
    const wide = renderDashboard(m, { width: 160 });
    assert.match(wide, /worker-implementation-20251121-120000-a00005 /);
    const cut = renderDashboard(m, { width: 80, maxRows: 10 });
    assert.equal(cut.split('\n').filter((l) => /^worker[-…]/.test(l)).length, 10);
    assert.match(cut, /… 190 more workers/);
  });

  test('a blocked worker (waiting for a person) shows as blocked, after the stalled, with what it asks', () => {
    const specs = [runningSpec('asks', { execution: { pid: 4321, started_at: ago(60), restart_count: 0 } }), runningSpec('fine', { execution: { pid: 4322, started_at: ago(60), restart_count: 0 } })];
    const workers = {
      asks: { worker_id: 'asks', health_state: 'blocked', last_checkin: ago(600), checkin_status: 'blocked', checkin_message: 'Claude needs your permission to use Bash', progress_pct: 10, restart_count: 0 },
      fine: { worker_id: 'fine', health_state: 'healthy', last_checkin: ago(1), progress_pct: 50, restart_count: 0 },
    };
    /** @type {Map<string, import('../../dist/contract/checkin.js').Checkin>} */
    const checkins = new Map([['asks', { worker_id: 'asks', timestamp: ago(600), status: 'blocked', progress_pct: 10, message: 'Claude needs your permission to use Bash' }]]);
    const m = buildDashboardModel({ home: '/h', now: NOW, daemon: runningDaemon, specs, checkins, pmState: { daemon: { pid: 4242 }, workers, metrics: {}, configuration: {} }, queueDepth: 0, alerts: [], problems: [] });
    assert.deepEqual(m.workers.map((w) => [w.worker_id, w.health_state]), [['asks', 'blocked'], ['fine', 'healthy']]);
    assert.equal(m.totals.by_health.blocked, 1);
    assert.ok(TROUBLE_ORDER.indexOf('blocked') < TROUBLE_ORDER.indexOf('late') && TROUBLE_ORDER.indexOf('blocked') > TROUBLE_ORDER.indexOf('stalled'));
    const text = renderDashboard(m, { width: 160 });
    assert.match(text, /asks +fixture +running +blocked /);
    assert.match(text, /health {3}1 blocked, 1 healthy/);
    assert.equal(m.workers[0].message, 'Claude needs your permission to use Bash', 'what it asks, in the model (and --json)');
  });

  test('a spec the daemon has not seen yet still shows, with health -', () => {
    const unseen = runningSpec('fresh-one', { status: 'pending' });
    const m = buildDashboardModel({ home: '/h', now: NOW, daemon: runningDaemon, specs: [unseen], checkins: new Map(), pmState: undefined, queueDepth: 0, alerts: [], problems: [] });
    assert.equal(m.workers[0].health_state, null);
    assert.equal(m.totals.by_health.unseen, 1);
    assert.match(renderDashboard(m), /fresh-one +fixture +pending +- /);
  });

  test('a stopped daemon, alerts and problems are shown truthfully', () => {
    const alerts = [
      { id: 'a1', type: 'zombie_threshold', severity: 'critical', status: 'active', message: '12 zombie workers found in one pass (threshold 10)', metric_value: 12, threshold: 10, created_at: ago(300), resolved_at: null, worker_ids: [] },
      { id: 'a0', type: 'queue_depth', severity: 'warning', status: 'resolved', message: 'RESOLVED-MESSAGE', metric_value: 1, threshold: 1, created_at: ago(900), resolved_at: ago(800), worker_ids: [] },
    ];
    const problems = Array.from({ length: 7 }, (_, i) => `worker-specs/active/bad-${i}.json: not valid JSON`);
    const m = model(3, stoppedDaemon, { alerts, problems });
    const text = renderDashboard(m, { width: 80 });
    assert.match(text, /daemon {3}stopped\n {9}pm-daemon not running: no pid file/);
    assert.match(text, /alerts {3}CRIT zombie_threshold: 12 zombie workers found in one pass \(threshold\n {14}10\) \(for 5m\)\n/);
    assert.doesNotMatch(text, /RESOLVED-MESSAGE/);
    assert.match(text, /health as the daemon last saw it/);
    assert.match(text, /! worker-specs\/active\/bad-4\.json/);
    assert.match(text, /… 2 more problems/);
    assert.ok(widest(text) <= 80);
    assert.equal(m.alerts.length, 1);
  });

  test('formatting helpers stay narrow', () => {
    for (const [s, want] of /** @type {Array<[number, string]>} */ ([[0, '0s'], [59, '59s'], [60, '1m'], [3599, '59m'], [7380, '2h03m'], [36000, '10h'], [90000, '1d01h'], [8640000, '100d'], [1_764_000_000, '55y']])) assert.equal(formatDuration(s), want);
    assert.equal(formatDuration(null), '-');
    assert.equal(truncateMiddle('worker-implementation-001', 12), 'work…ion-001');
    assert.equal(truncateMiddle('worker-implementation-001', 12).length, 12);
  });
});

describe('daemon-monitor command', () => {
  test('--status (the default) shows a live daemon as running, and each worker joined from spec and pm-state', () => withHome({}, async ({ home, tracker }) => {
    const daemonPid = spawnUnrelated(tracker);
    const workerPid = spawnUnrelated(tracker);
    writePidFile(home, daemonPid);
    writeSpecFile(home, 'active', runningSpec('worker-a', { execution: { pid: workerPid, started_at: new Date(Date.now() - 65_000).toISOString(), restart_count: 1 } }));
    writeSpecFile(home, 'active', runningSpec('worker-b', { status: 'pending' }));
    writeFileSync(coord(home, 'worker-specs', 'active', 'broken.json'), '{ nope');
    writePmState(home, { pid: daemonPid, workers: { 'worker-a': { worker_id: 'worker-a', health_state: 'healthy', last_checkin: new Date(Date.now() - 20_000).toISOString(), progress_pct: 40, restart_count: 1, pid: workerPid } } });
    writeFileSync(coord(home, 'task-queue.json'), JSON.stringify({ tasks: [] }));
    const before = snapshotTree(home);
    for (const args of [['daemon-monitor', '--status']]) {
      const result = await run(home, args);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`daemon {3}running {2}pid ${daemonPid}`));
      assert.match(result.stdout, new RegExp(`worker-a +fixture +running +healthy +${workerPid} +1m +1 +2\\ds +40%`));
      assert.match(result.stdout, /worker-b +fixture +pending +- /);
      assert.match(result.stdout, /broken\.json/);
      assert.ok(!result.stdout.includes(CSI));
    }
    const json = await run(home, ['daemon-monitor', '--json']);
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.daemon.running, true);
    assert.equal(parsed.daemon.pid, daemonPid);
    assert.deepEqual(parsed.workers.map((w) => w.worker_id).sort(), ['worker-a', 'worker-b']);
    assert.equal(parsed.queue_depth, 0);
    assert.deepEqual(snapshotTree(home), before, 'the dashboard changed a file');
  }));

  test('200 workers through the script, not on a terminal: whole ids and tasks, the 10 newest ended; --json parses', () => withHome({}, async ({ home }) => {
    const long = 'Refactor the billing module so that invoices are generated from the ledger and not from the orders table';
    for (let i = 0; i < 200; i++) writeSpecFile(home, 'active', runningSpec(`worker-implementation-20251121-${String(i).padStart(3, '0')}`, { status: 'pending', task: { description: `${long} (${i})` } }));
    for (let i = 0; i < 30; i++) {
      const folder = i % 2 ? 'failed' : 'completed';
      writeSpecFile(home, folder, runningSpec(`old-${i}`, { status: folder, error: folder === 'failed' ? 'max restarts reached' : null, execution: { pid: null, exit_code: i % 2, completed_at: new Date(Date.now() - (100 - i) * 1000).toISOString() } }));
      // By mtime, the newest are the highest i.
      const when = new Date(Date.now() - (100 - i) * 1000);
      utimesSync(coord(home, 'worker-specs', folder, `old-${i}.json`), when, when);
    }
    const text = await run(home, [], { script: 'dashboards/daemon-monitor.sh' });
    assert.equal(text.code, 0, text.stderr);
    const rows = text.stdout.split('\n').filter((l) => l.startsWith('worker-implementation-20251121-'));
    assert.equal(rows.length, 200);
    for (const row of rows) assert.match(row, /^worker-implementation-20251121-\d{3} .* Refactor the billing module .* orders table \(\d+\)$/);
    assert.ok(!text.stdout.includes('…'), 'nothing cut');
    assert.match(text.stdout, /daemon {3}stopped/);
    const recent = text.stdout.split('\n').filter((l) => / old-\d+ /.test(l)).map((l) => / (old-\d+) /.exec(l)?.[1]);
    assert.deepEqual(recent, ['old-29', 'old-28', 'old-27', 'old-26', 'old-25', 'old-24', 'old-23', 'old-22', 'old-21', 'old-20']);
    const json = await run(home, ['--json'], { script: 'dashboards/daemon-monitor.sh' });
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.totals.workers, 200);
    assert.equal(parsed.workers[0].description, `${long} (0)`);
    assert.equal(parsed.recent.length, 10);
  }));

  test('--watch redraws until q, and until SIGINT', { timeout: 20_000 }, () => withHome({}, async ({ home, tracker }) => {
    writeSpecFile(home, 'active', runningSpec('watched-1', { status: 'pending' }));
    for (const how of ['q', 'SIGINT']) {
      const child = spawn(process.execPath, [CLI, 'daemon-monitor', '--watch', '--interval', '0.2'], { env: { ...process.env, COMMIT_RELAY_HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
      tracker.pid(child.pid);
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      await waitFor(() => out.split('watched-1').length > 2, { timeoutMs: 8000, what: 'two frames' });
      if (how === 'q') child.stdin.write('q');
      else child.kill('SIGINT');
      const end = await exited;
      assert.deepEqual(end, { code: 0, signal: null }, how);
      assert.ok(!out.includes(`${CSI}?1049h`), 'no screen control codes when stdout is not a terminal');
    }
  }));

  test('--watch whose reader goes away (| head) ends quietly with exit 0, no stack trace', { timeout: 20_000 }, () => withHome({}, async ({ home, tracker }) => {
    // stdin stays open (its end would quit the watch, as q does).
    const child = spawn(process.execPath, [CLI, 'daemon-monitor', '--watch', '--interval', '0.1'], { env: { ...process.env, COMMIT_RELAY_HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
    tracker.pid(child.pid);
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    // The reader reads one frame, then closes its end, as head does.
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.stdout.destroy();
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.equal(err, '', 'nothing on stderr');
  }));

  test('a stopped daemon: a killed worker shows exited, no pid; the next daemon adopts the live one, and its console says what happened', { timeout: 60_000 }, () => withHome({ daemonConfig: { alerts: { queue_depth_threshold: 0 } } }, async ({ home, paths }) => {
    writePendingSpec(home, 'w-live', { description: 'keeps running' });
    writePendingSpec(home, 'w-dead', { description: 'gets killed' });
    const first = await run(home, ['pm-daemon', '--once', '--concurrency', '2']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /pm_started +pid \d+, adopted 0 running workers/);
    const dead = readSpecFile(home, 'active', 'w-dead');
    const deadPid = defined(dead.execution?.pid, 'w-dead runs');
    // The whole run (its shim's process group), as a crash or an OOM kill would, leaving no exit record.
    process.kill(-deadPid, 'SIGKILL');
    await waitFor(() => !isLive(deadPid), { what: 'w-dead to die', timeoutMs: 5000 });
    const text = await run(home, ['daemon-monitor']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^w-dead +fixture +exited +exited +- +- .* gets killed$/m);
    assert.match(text.stdout, new RegExp(`^w-live +fixture +running +\\S+ +${readSpecFile(home, 'active', 'w-live').execution?.pid} .* keeps running$`, 'm'));
    assert.match(text.stdout, /processes checked now/);
    // What --json prints (the model), read in this process.
    const model = collectDashboardModel(paths);
    const rows = Object.fromEntries(model.workers.map((/** @type {any} */ w) => [w.worker_id, w]));
    assert.deepEqual([rows['w-dead'].liveness, rows['w-dead'].pid, rows['w-dead'].health_state, rows['w-dead'].description], ['gone', null, 'exited', 'gets killed']);
    assert.equal(rows['w-live'].liveness, 'alive');
    assert.ok(model.health_stale);
    // The next daemon: one slot, taken by the live worker, so a queued task waits (a queue_depth alert).
    await enqueueTask(paths, buildTask({ description: 'waits', priority: 'medium', workerType: 'fixture', metadata: {} }));
    const second = await run(home, ['pm-daemon', '--once', '--concurrency', '1']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /pm_started +pid \d+, adopted 1 running worker,/);
    assert.match(second.stdout, /zombie_detected +w-dead {2}zombie: no process found, no recorded exit -> restart #1 in \d+s/);
    assert.match(second.stdout, /alert_raised +WARNING queue_depth: 1 task queued \(above 0\)/);
  }));

  test('bad flags are refused with one line', () => withHome({}, async ({ home }) => {
    const result = await run(home, ['daemon-monitor', '--width', '10']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--width must be a whole number >= 40/);
  }));
});
