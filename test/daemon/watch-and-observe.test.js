// The daemon's cheap paths: the folder watch (fs.watch, no rescans), the incremental reading of a pass
// asked for by check-ins alone, the derived-file write for pm-state.json, and reconcile skipping specs
// it already knows.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { systemClock } from '../../dist/core/clock.js';
import { FolderWatcher } from '../../dist/daemon/folder-watch.js';
import { HomeWatch } from '../../dist/daemon/home-watch.js';
import { Observer } from '../../dist/daemon/observer.js';
import { reconcileTasks } from '../../dist/daemon/task-specs.js';
import { currentBootId, readIdentity } from '../../dist/process/identity.js';
import { writeDerivedTextSync } from '../../dist/store/atomic.js';
import { events, morePasses } from '../helpers/daemon.js';
import { defined, FIXTURES, readJson, run, waitFor } from '../helpers/home.js';
import { isAlive } from '../helpers/processes.js';
import { openScope, withHome } from '../helpers/scope.js';

let scope;
let home;
let paths;
let tracker;
beforeEach(() => {
  scope = openScope({ types: { fixture: { command: ['true'] } } });
  ({ home, paths, tracker } = scope);
});
afterEach(() => scope.close());

describe('HomeWatch', () => {
  test('an exit record asks for a pass at once, except one whose shim is the daemon\'s running child (its exit asks)', async () => {
    /** @type {any[]} */
    const requests = [];
    const scheduler = /** @type {any} */ ({ request: (/** @type {any} */ kind) => requests.push(kind), recheckExits: () => undefined });
    const watch = new HomeWatch(paths, /** @type {any} */ ({}), scheduler, () => undefined, (/** @type {string} */ id) => id === 'w-child');
    watch.start();
    try {
      const record = (/** @type {string} */ id) => {
        writeFileSync(join(paths.exits, `${id}.json.tmp`), JSON.stringify({ worker_id: id, run_id: 'r', status: 1 }));
        renameSync(join(paths.exits, `${id}.json.tmp`), join(paths.exits, `${id}.json`));
      };
      record('w-child');
      record('w-adopted');
      await waitFor(() => requests.some((r) => r.exits?.includes('w-adopted')), { what: 'a pass asked for w-adopted' });
      assert.deepEqual(requests, [{ processEnded: true, exits: ['w-adopted'] }], 'none for w-child, whose record came first');
    } finally {
      watch.close();
    }
  });
});

describe('FolderWatcher', () => {
  test('reports the accepted names that change, and nothing for the others', async () => {
    const seen = [];
    const errors = [];
    const watcher = new FolderWatcher([{ folder: paths.checkins, accept: (n) => n.endsWith('.json') }], (folder, name) => seen.push([folder, name]), (folder, error) => errors.push([folder, error]));
    watcher.ensure();
    try {
      writeFileSync(join(paths.checkins, '.w1.tmp'), '{}');
      renameSync(join(paths.checkins, '.w1.tmp'), join(paths.checkins, 'w1.json'));
      writeFileSync(join(paths.checkins, 'notes.txt'), 'x');
      await waitFor(() => seen.some(([, name]) => name === 'w1.json'), { what: 'an event for w1.json' });
      assert.ok(seen.every(([folder, name]) => folder === paths.checkins && (name === null || name.endsWith('.json'))), JSON.stringify(seen));
      assert.deepEqual(errors, []);
    } finally {
      watcher.close();
    }
  });

  test('a folder removed and made again is watched again by ensure(); a missing one is reported once', async () => {
    const seen = [];
    const errors = [];
    const watcher = new FolderWatcher([{ folder: paths.exits, accept: () => true }], (_folder, name) => seen.push(name), (folder) => errors.push(folder));
    watcher.ensure();
    try {
      rmSync(paths.exits, { recursive: true });
      watcher.ensure();
      watcher.ensure();
      assert.deepEqual(errors, [paths.exits], 'reported once while missing');
      assert.deepEqual(watcher.folderNames(), []);
      mkdirSync(paths.exits);
      watcher.ensure();
      assert.deepEqual(watcher.folderNames(), [paths.exits]);
      writeFileSync(join(paths.exits, 'w2.json'), '{}');
      await waitFor(() => seen.includes('w2.json'), { what: 'an event from the new folder' });
    } finally {
      watcher.close();
    }
    assert.deepEqual(watcher.folderNames(), []);
  });
});

describe('Observer: incremental readings', () => {
  function runningSpec(id, pid) {
    const identity = defined(readIdentity(pid), `the identity of ${pid}`);
    return {
      worker_id: id,
      worker_type: 'fixture',
      task_id: null,
      status: 'running',
      created_at: new Date().toISOString(),
      task: { description: 'd' },
      execution: { pid, process_start_ticks: identity.startTicks, boot_id: currentBootId(), run_id: `run-${id}`, started_at: new Date().toISOString(), restart_count: 0 },
    };
  }
  const writeSpecFile = (spec) => writeFileSync(paths.specFile('active', spec.worker_id), JSON.stringify(spec));
  const writeCheckin = (id, pct) =>
    writeFileSync(paths.checkinFile(id), JSON.stringify({ worker_id: id, timestamp: new Date().toISOString(), status: 'in_progress', progress_pct: pct, run_id: `run-${id}` }));
  /** A process of worker `id`'s run: it carries the run's token, as every process a worker starts does. */
  function sleeper(id = 'wa') {
    const child = spawn('sleep', ['60'], { stdio: 'ignore', env: { ...process.env, COMMIT_RELAY_RUN_ID: `run-${id}` } });
    tracker.pid(child.pid);
    return child;
  }

  test('reads only the named check-ins, keeps the specs it has, and still sees a process that died', async () => {
    const a = sleeper();
    const b = sleeper('wb');
    writeSpecFile(runningSpec('wa', a.pid));
    writeSpecFile(runningSpec('wb', b.pid));
    const observer = new Observer(paths, systemClock(), (spec) => spec.worker_type === 'fixture');
    const first = observer.observe();
    assert.deepEqual(first.workers.map((w) => [w.view.workerId, w.view.process]), [['wa', 'alive'], ['wb', 'alive']]);

    writeCheckin('wa', 10);
    writeCheckin('wb', 20);
    const some = observer.observe({ checkins: new Set(['wa']) });
    assert.deepEqual(some.newCheckins.map((c) => c.workerId), ['wa'], 'only the named check-in is read');
    assert.deepEqual(some.workers.map((w) => w.view.process), ['alive', 'alive']);
    const full = observer.observe();
    assert.deepEqual(full.newCheckins.map((c) => c.workerId), ['wb'], 'the full reading finds the other');

    // A spec that appears is the full reading's business; an incremental one keeps what it knows.
    const c = sleeper('wc');
    writeSpecFile(runningSpec('wc', c.pid));
    assert.deepEqual(observer.observe({ checkins: new Set() }).workers.map((w) => w.view.workerId), ['wa', 'wb']);
    assert.deepEqual(observer.observe().workers.map((w) => w.view.workerId), ['wa', 'wb', 'wc']);

    // A process gone since the last full reading is gone in an incremental one too.
    const exited = new Promise((resolve) => a.once('exit', resolve));
    a.kill('SIGKILL');
    await exited;
    assert.equal(isAlive(defined(a.pid, 'its pid')), false);
    const after = observer.observe({ checkins: new Set() });
    assert.equal(defined(after.workers.find((w) => w.view.workerId === 'wa'), 'wa').view.process, 'gone', 'gone with no exit record: a zombie, as a full reading says');
    assert.equal(defined(after.workers.find((w) => w.view.workerId === 'wb'), 'wb').view.process, 'alive');
  });

  test('observeOne reads one worker as a pass naming its process would: its process in full, its changed spec (an operator\'s hold) again, its check-in handed to the next pass; nothing for a worker it does not hold as it is on disk', async () => {
    const a = sleeper();
    const spec = runningSpec('wa', a.pid);
    writeSpecFile(spec);
    const observer = new Observer(paths, systemClock(), (s) => s.worker_type === 'fixture');
    assert.equal(observer.observeOne('wa'), undefined, 'not read yet');
    observer.observe();
    assert.equal(observer.observeOne('wa')?.view.process, 'alive');
    assert.equal(observer.observeOne('nobody'), undefined);

    writeCheckin('wa', 40);
    a.kill('SIGKILL');
    await waitFor(() => observer.observeOne('wa')?.view.process === 'gone', { what: 'the end seen' });
    const next = observer.observe({ checkins: new Set() });
    assert.deepEqual(next.newCheckins.map((c) => [c.workerId, c.checkin.progress_pct]), [['wa', 40]], 'the check-in it read goes to the next pass');
    // Or to whoever takes it first (the daemon's restart at once logs it before the restart's events).
    // A new version (a new file, another size and timestamp: as real check-ins differ).
    const later = { worker_id: 'wa', timestamp: new Date(Date.now() + 5).toISOString(), status: 'in_progress', progress_pct: 45, run_id: 'run-wa', message: 'later' };
    writeFileSync(`${paths.checkinFile('wa')}.tmp`, JSON.stringify(later));
    renameSync(`${paths.checkinFile('wa')}.tmp`, paths.checkinFile('wa'));
    observer.observeOne('wa');
    assert.deepEqual(observer.takeArrived('wb').read, []);
    assert.deepEqual(observer.takeArrived('wa').read.map((c) => c.checkin.progress_pct), [45]);
    assert.deepEqual(observer.observe({ checkins: new Set() }).newCheckins, [], 'taken once');
    // A rate-limited one not passed yet is news for the whole provider: the pass's to plan (rateLimitArrived).
    const limited = { ...later, timestamp: new Date(Date.now() + 10).toISOString(), status: 'rate_limited', retry_at: new Date(Date.now() + 60_000).toISOString(), message: 'limited now' };
    writeFileSync(`${paths.checkinFile('wa')}.tmp`, JSON.stringify(limited));
    renameSync(`${paths.checkinFile('wa')}.tmp`, paths.checkinFile('wa'));
    assert.equal(observer.rateLimitArrived(), false);
    observer.observeOne('wa');
    assert.equal(observer.rateLimitArrived(), true);
    observer.observe({ checkins: new Set() });
    assert.equal(observer.rateLimitArrived(), false, 'passed');

    // An operator's hold written after the spec was read (stop-worker writes it before its signal): read again, not a crash.
    const held = { ...spec, execution: { ...spec.execution, stopped: { at: new Date().toISOString(), action: 'stop', reason: 'r', by: 'test', pid: process.pid, process_start_ticks: null } } };
    writeFileSync(`${paths.specFile('active', 'wa')}.tmp`, `${JSON.stringify(held)} `);
    renameSync(`${paths.specFile('active', 'wa')}.tmp`, paths.specFile('active', 'wa'));
    assert.equal(observer.observeOne('wa')?.view.held, true);

    // Rewritten by the daemon since it was read (invalidate): left to the pass.
    observer.invalidate('wa');
    assert.equal(observer.observeOne('wa'), undefined);
  });

  test('check-ins read as they arrive are all counted, though a later one overwrote the file before the pass', () => {
    const a = sleeper();
    writeSpecFile(runningSpec('wa', a.pid));
    const observer = new Observer(paths, systemClock(), (spec) => spec.worker_type === 'fixture');
    observer.observe();
    for (const pct of [1, 2, 3]) {
      // Each version must differ in its (inode, size, mtime) and timestamp, as real ones do.
      const stamped = { worker_id: 'wa', timestamp: new Date(Date.now() + pct).toISOString(), status: 'in_progress', progress_pct: pct, run_id: 'run-wa', message: 'x'.repeat(pct) };
      writeFileSync(`${paths.checkinFile('wa')}.tmp`, JSON.stringify(stamped));
      renameSync(`${paths.checkinFile('wa')}.tmp`, paths.checkinFile('wa'));
      assert.equal(observer.readCheckinNow('wa'), true);
    }
    assert.equal(observer.readCheckinNow('nobody'), true, 'a check-in of an unknown worker is left to the full pass');
    const next = observer.observe({ checkins: new Set(['wa']) });
    assert.deepEqual(next.newCheckins.map((c) => c.checkin.progress_pct), [1, 2, 3]);
    assert.equal(next.workers[0].checkinCount, 3);
    assert.deepEqual(observer.observe().newCheckins, [], 'handed on once');
  });

  test('a check-in is never read ahead of a spec that changed on disk: it is judged against the new run', () => {
    const a = sleeper();
    const spec = runningSpec('wa', a.pid);
    writeSpecFile(spec);
    const observer = new Observer(paths, systemClock(), (spec) => spec.worker_type === 'fixture');
    observer.observe();
    // Another process starts a new run (a new run_id); a check-in still carrying the old run arrives.
    writeSpecFile({ ...spec, execution: { ...spec.execution, run_id: 'run-new', started_at: new Date(Date.now() - 5000).toISOString() } });
    writeCheckin('wa', 50);
    assert.equal(observer.readCheckinNow('wa'), true);
    const next = observer.observe();
    assert.deepEqual(next.newCheckins, [], 'the old run\'s check-in is not counted');
    assert.match(next.ignoredCheckins[0]?.reason ?? '', /current run is run-new/);
  });

  test('a check-in dated before its run started (a clock set to 1970) is not counted, and says why once', () => {
    const a = sleeper();
    writeSpecFile(runningSpec('wa', a.pid));
    const observer = new Observer(paths, systemClock(), (spec) => spec.worker_type === 'fixture');
    observer.observe();
    writeFileSync(paths.checkinFile('wa'), JSON.stringify({ worker_id: 'wa', timestamp: '1970-01-01T00:00:05.000Z', status: 'in_progress', progress_pct: 5, run_id: 'run-wa' }));
    const next = observer.observe();
    assert.deepEqual(next.newCheckins, []);
    assert.equal(next.ignoredCheckins.length, 1);
    assert.match(next.ignoredCheckins[0].reason, /check-in dated 1970-01-01T00:00:05.000Z is older than the run's start/);
    assert.deepEqual(observer.observe().ignoredCheckins, [], 'once per version of the file');
  });

  test('active/ removed or replaced is news for two full readings (the second sees what a reading between the listing and the stat missed), with the specs it held', () => {
    const a = sleeper();
    writeSpecFile(runningSpec('wa', a.pid));
    const observer = new Observer(paths, systemClock(), (spec) => spec.worker_type === 'fixture');
    assert.equal(observer.observe().activeReplaced, undefined, 'the first reading only notes the folder');
    const active = paths.specDir('active');
    renameSync(active, `${active}.gone`);
    const missing = observer.observe();
    assert.equal(missing.activeReplaced, true, 'a missing folder');
    assert.deepEqual(missing.departed.map((d) => [d.workerId, d.memory?.spec?.worker_id, d.identity?.pid]), [['wa', 'wa', a.pid]], 'departed with its spec as last read');
    mkdirSync(active);
    assert.equal(observer.observe().activeReplaced, true, 'a new folder');
    assert.equal(observer.observe().activeReplaced, true, 'news for one more full reading');
    assert.equal(observer.observe().activeReplaced, undefined);
    assert.equal(observer.observe({ checkins: new Set() }).activeReplaced, undefined, 'an incremental reading never tells');
    rmSync(`${active}.gone`, { recursive: true, force: true });
    // Removed and made again between two readings (its inode number may well be handed out again): still seen.
    rmSync(active, { recursive: true, force: true });
    mkdirSync(active);
    assert.equal(observer.observe().activeReplaced, true, 'made again between two readings');
    observer.close();
  });

  test('a spec the daemon rewrote (invalidated) is read again by an incremental reading; a vanished one is only departed in a full one', () => {
    const a = sleeper();
    const spec = runningSpec('wa', a.pid);
    writeSpecFile(spec);
    const observer = new Observer(paths, systemClock(), (spec) => spec.worker_type === 'fixture');
    observer.observe();
    writeSpecFile({ ...spec, status: 'pending', execution: { ...spec.execution, pid: null } });
    assert.equal(observer.observe({ checkins: new Set() }).workers[0].view.status, 'running', 'not invalidated: the cached spec stands');
    observer.invalidate('wa');
    assert.equal(observer.observe({ checkins: new Set() }).workers[0].view.status, 'pending', 'invalidated: read again');

    rmSync(paths.specFile('active', 'wa'));
    observer.invalidate('wa');
    const incremental = observer.observe({ checkins: new Set() });
    assert.deepEqual(incremental.workers, []);
    assert.deepEqual(incremental.departed, []);
    assert.deepEqual(observer.observe().departed.map((d) => d.workerId), ['wa']);
  });
});

describe('writeDerivedTextSync', () => {
  test('replaces the file whole and leaves no temp file', () => {
    const file = join(home, 'coordination', 'pm-state.json');
    writeDerivedTextSync(file, JSON.stringify({ a: 1 }));
    writeDerivedTextSync(file, JSON.stringify({ a: 2, text: 'é'.repeat(100_000) }));
    assert.deepEqual(readJson(file), { a: 2, text: 'é'.repeat(100_000) });
    assert.deepEqual(readdirSync(join(home, 'coordination')).filter((n) => n.includes('.tmp')), []);
  });

  test('written in parts (pm-state.json: a part per worker, more than one writev holds), the file is the parts in order', () => {
    const file = join(home, 'coordination', 'pm-state.json');
    const parts = Array.from({ length: 2500 }, (_, i) => Buffer.from(i % 7 === 0 ? '' : `part ${i} ${'é'.repeat(i % 50)}\n`));
    writeDerivedTextSync(file, parts);
    assert.equal(readFileSync(file, 'utf8'), Buffer.concat(parts).toString('utf8'));
    assert.deepEqual(readdirSync(join(home, 'coordination')).filter((n) => n.includes('.tmp')), []);
  });

  test('a failed write is IO_FAILED naming the file, keeps the old file and leaves no temp file', () => {
    const dir = join(home, 'coordination', 'state-dir');
    mkdirSync(dir);
    const file = join(dir, 'pm-state.json');
    writeDerivedTextSync(file, JSON.stringify({ old: true }));
    // The rename target becomes a non-empty folder: the rename fails after the temp file was written.
    rmSync(file);
    mkdirSync(file);
    writeFileSync(join(file, 'x'), 'x');
    assert.throws(() => writeDerivedTextSync(file, JSON.stringify({ new: true })), (/** @type {import('../../dist/errors.js').RelayError} */ error) => error.code === 'IO_FAILED' && error.message.includes(file));
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp')), []);
  });

  test('never writes through a link planted at its temp name', () => {
    const file = join(home, 'coordination', 'pm-state.json');
    const outside = join(home, 'outside.txt');
    writeFileSync(outside, 'keep');
    // Plant links at the next few temp names this process would use.
    const planted = [];
    for (let i = 1; i <= 200; i += 1) {
      const temp = `${file}.${process.pid}.${i}.tmp`;
      symlinkSync(outside, temp);
      planted.push(temp);
    }
    let failures = 0;
    for (let i = 0; i < 5; i += 1) {
      try {
        writeDerivedTextSync(file, JSON.stringify({ i }));
      } catch (error) {
        assert.equal(error.code, 'IO_FAILED');
        failures += 1;
      }
    }
    assert.equal(readFileSync(outside, 'utf8'), 'keep', 'the link target is untouched');
    assert.ok(failures > 0, 'a write that meets a planted link fails instead of following it');
  });
});

describe('reconcileTasks', () => {
  test('an assigned task whose worker the daemon knows in active/ is not read again; others still are', async () => {
    const now = Date.now();
    const task = (id, status, workerId) => ({ task_id: id, description: 'd', worker_type: 'fixture', priority: 'medium', status, created_at: new Date(now).toISOString(), worker_id: workerId });
    writeFileSync(paths.taskQueue, JSON.stringify({ tasks: [task('t1', 'assigned', 'w1'), task('t2', 'assigned', 'w2')] }));
    // w1 is "known active" but its spec actually sits in completed/: with the hint it is skipped.
    const done = (id, taskId) => ({ worker_id: id, worker_type: 'fixture', task_id: taskId, status: 'completed', created_at: new Date(now).toISOString(), task: { description: 'd' }, execution: { completed_at: new Date(now).toISOString(), exit_code: 0 } });
    writeFileSync(paths.specFile('completed', 'w1'), JSON.stringify(done('w1', 't1')));
    writeFileSync(paths.specFile('completed', 'w2'), JSON.stringify(done('w2', 't2')));
    assert.equal(await reconcileTasks(paths, now, new Set(['w1'])), 1);
    const byId = Object.fromEntries(readJson(paths.taskQueue).tasks.map((t) => [t.task_id, t.status]));
    assert.deepEqual(byId, { t1: 'assigned', t2: 'completed' });
    assert.equal(await reconcileTasks(paths, now), 1, 'without the hint, t1 is settled too');
  });

  test('an assigned task whose spec was archived (cleaned up by hand, runbook B) is settled as failed; a queued one without a spec is left', async () => {
    const now = Date.now();
    const task = (id, status, workerId) => ({ task_id: id, description: 'd', worker_type: 'fixture', priority: 'medium', status, created_at: new Date(now).toISOString(), worker_id: workerId });
    writeFileSync(paths.taskQueue, JSON.stringify({ tasks: [task('t3', 'assigned', 'w3'), task('t4', 'queued', 'w4'), task('t5', 'assigned', 'w5')] }));
    const failed = { worker_id: 'w3', worker_type: 'fixture', task_id: 't3', status: 'failed', created_at: new Date(now).toISOString(), task: { description: 'd' }, error: 'Manual termination', execution: { completed_at: new Date(now).toISOString() } };
    mkdirSync(join(paths.archivedDir(), 'batch-1'), { recursive: true });
    writeFileSync(join(paths.archivedDir(), 'batch-1', 'w3.json'), JSON.stringify(failed));
    // Another task's spec under w5's name in an archive is not w5's task's.
    writeFileSync(join(paths.archivedDir(), 'batch-1', 'w5.json'), JSON.stringify({ ...failed, worker_id: 'w5', task_id: 'other' }));
    assert.equal(await reconcileTasks(paths, now), 1);
    const byId = Object.fromEntries(readJson(paths.taskQueue).tasks.map((t) => [t.task_id, [t.status, t.error ?? null]]));
    assert.deepEqual(byId, { t3: ['failed', 'Manual termination'], t4: ['queued', null], t5: ['assigned', null] });
  });
});

describe('the daemon between timed passes (loop interval 60 s: every reaction here comes from an event)', () => {
  test('a worker dispatched by the first pass, and its restart, are each seen ending at once', () => withHome({ types: { quick: { command: ['sh', join(FIXTURES, 'exit-with.sh'), '3', '0.5'], restart_backoff_seconds: 0, restart_backoff_max_seconds: 0, max_restarts: 1, stop_grace_seconds: 1 } } }, async ({ home, startDaemon }) => {
    const created = await run(home, ['create-task', '--worker-type', 'quick', '--description', 'd']);
    assert.equal(created.code, 0, created.stderr);
    await startDaemon({ env: { PM_LOOP_INTERVAL: '60' } });
    // Two runs of 0.5 s each, then failed: long before any timed pass.
    await waitFor(() => events(home).some((e) => e.event === 'worker_failed'), { what: 'both runs seen ending', timeoutMs: 20_000 });
    const ends = events(home).filter((e) => e.event === 'worker_exited');
    assert.equal(ends.length, 2);
  }));
});

test('a running daemon given a check-in dated 1970: one checkin_ignored with the reason, never a stall from it, and the dashboard shows its age plainly', () => withHome({}, async (t) => {
  const created = await run(t.home, ['create-task', '--description', 'clock', '--worker-type', 'fixture']);
  assert.equal(created.code, 0, created.stderr);
  await t.startDaemon({ env: { PM_LOOP_INTERVAL: '2' } });
  const active = () => readdirSync(t.paths.specDir('active'));
  const file = await waitFor(() => active()[0], { what: 'the worker spec', timeoutMs: 15_000 });
  const id = file.slice(0, -'.json'.length);
  const spec = await waitFor(() => {
    const read = readJson(join(t.paths.specDir('active'), file));
    return read.execution?.pid ? read : undefined;
  }, { what: 'the worker running', timeoutMs: 15_000 });
  t.tracker.group(spec.execution.pid);
  writeDerivedTextSync(t.paths.checkinFile(id), JSON.stringify({ worker_id: id, timestamp: '1970-01-01T00:00:05.000Z', status: 'in_progress', progress_pct: 5, run_id: spec.execution.run_id }));
  const ignored = await waitFor(() => events(t.home).find((e) => e.event === 'checkin_ignored' && e.worker_id === id), { what: 'checkin_ignored', timeoutMs: 15_000 });
  assert.match(String(ignored.data.reason), /check-in dated 1970-01-01T00:00:05.000Z is older than the run's start/);
  await morePasses(t.home, 2);
  assert.equal(events(t.home).filter((e) => e.event === 'checkin_ignored' && e.worker_id === id).length, 1, 'once per version of the file');
  assert.equal(events(t.home).filter((e) => e.worker_id === id && (e.event === 'worker_stalled' || e.event === 'worker_killed')).length, 0);
  const board = await run(t.home, ['--status'], { script: 'dashboards/daemon-monitor.sh' });
  assert.equal(board.code, 0, board.stderr);
  const line = board.stdout.split('\n').find((l) => l.includes(id)) ?? '';
  const years = Math.floor((Date.now() - Date.parse('1970-01-01T00:00:05.000Z')) / (365.25 * 86_400_000));
  assert.match(line, new RegExp(`(?:^|\\s)(?:${years - 1}|${years})y(?:\\s|$)`), `the check-in's age in years: ${line}`);
  assert.doesNotMatch(board.stdout, /NaN|(?:^|\s)-\d+[smhdy]\b/);
}));
