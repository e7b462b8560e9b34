// A symbolic link planted where a worker can write is never followed out of the home: not read, not written
// through. The daemon reports it and carries on.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SECURITY_FIXTURES, targetPrint } from './support.js';
import { openHome } from '../../dist/store/home.js';
import { eventsOf, stopDaemon } from '../helpers/daemon.js';
import { FIXTURES, readJson, readJsonl, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { pendingSpec, specPath, writeSpecFile } from '../helpers/specs.js';

const quick = { stop_grace_seconds: 1, restart_backoff_seconds: 0, startup_grace_seconds: 0 };

/**
 * Starts the active spec `id` with start-worker.sh and waits for its shim to exit.
 * @param {string} home @param {string} id @param {{ pid(pid: number): void }} tracker
 */
async function startAndAwaitShimExit(home, id, tracker) {
  const result = await run(home, ['--spec', specPath(home, 'active', id)], { script: 'start-worker.sh' });
  assert.equal(result.code, 0, result.stderr);
  const pid = Number(result.stdout.trim());
  tracker.pid(pid);
  await waitFor(() => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, { what: 'the shim to exit' });
}

describe('symbolic links in worker-specs/ and worker-checkins/', () => {
  test('a linked spec in active/ is reported once and never started; its target is untouched; the daemon runs the rest', () => withHome({ types: { quick: { command: ['sh', join(FIXTURES, 'exit-with.sh'), '0', '0.2'], ...quick } } }, async ({ home, startDaemon, makeHome }) => {
    const outside = makeHome();
    openHome(home);
    const target = join(outside, 'planted.json');
    writeFileSync(target, JSON.stringify(pendingSpec('planted', 'quick')));
    const link = specPath(home, 'active', 'planted');
    symlinkSync(target, link);
    const before = targetPrint(target);
    writeSpecFile(home, 'active', pendingSpec('honest', 'quick'));

    const daemon = await startDaemon();
    await waitFor(() => existsSync(specPath(home, 'completed', 'honest')), { what: 'the honest worker to complete' });
    // A link added while the daemon runs is reported too.
    const target2 = join(outside, 'planted2.json');
    writeFileSync(target2, JSON.stringify(pendingSpec('planted2', 'quick')));
    symlinkSync(target2, specPath(home, 'active', 'planted2'));
    const before2 = targetPrint(target2);
    await waitFor(() => eventsOf(home, 'planted2', 'spec_invalid').length === 1, { what: 'the second link reported' });
    const passes = readJson(join(home, 'coordination', 'pm-state.json')).pm_daemon.loops_completed;
    await waitFor(() => readJson(join(home, 'coordination', 'pm-state.json')).pm_daemon.loops_completed >= passes + 3, { what: 'three more passes' });

    for (const [id, print, file] of /** @type {Array<[string, ReturnType<typeof targetPrint>, string]>} */ ([['planted', before, target], ['planted2', before2, target2]])) {
      const reports = eventsOf(home, id, 'spec_invalid');
      assert.equal(reports.length, 1, `${id} reported once`);
      assert.match(reports[0].data.reason, /symbolic link/);
      assert.equal(eventsOf(home, id, 'worker_started').length, 0, `${id} never started`);
      assert.deepEqual(targetPrint(file), print, `${file} untouched`);
      assert.ok(lstatSync(specPath(home, 'active', id)).isSymbolicLink(), 'the link is left where it is');
    }
    assert.equal(daemon.child.exitCode, null, 'the daemon carries on');
    // start-worker refuses it as well: the real file is not in active/.
    const started = await run(home, ['--spec', link], { script: 'start-worker.sh' });
    assert.notEqual(started.code, 0);
    assert.equal(started.stderr.trim().split('\n').length, 1);
    assert.deepEqual(targetPrint(target), before);
  }));

  test('a linked check-in is not read by the daemon: the worker goes late though the target is fresh; the target is untouched', () => withHome({ types: { silent: { command: ['sh', join(FIXTURES, 'forever.sh')], ...quick, checkin_timeout_seconds: 1, stall_timeout_seconds: 60 } } }, async ({ home, startDaemon, makeHome }) => {
    const outside = makeHome();
    openHome(home);
    writeSpecFile(home, 'active', pendingSpec('quiet', 'silent'));
    const target = join(outside, 'fresh-checkin.json');
    const fresh = () => JSON.stringify({ worker_id: 'quiet', timestamp: new Date().toISOString(), status: 'in_progress', progress_pct: 50 });
    writeFileSync(target, fresh());
    symlinkSync(target, join(home, 'coordination', 'worker-checkins', 'quiet.json'));

    const daemon = await startDaemon();
    // Keep the target fresh: were the link followed, the worker would look healthy.
    const timer = setInterval(() => writeFileSync(target, fresh()), 100);
    try {
      await waitFor(() => eventsOf(home, 'quiet', 'missed_checkin').length >= 1, { what: 'missed_checkin', timeoutMs: 10_000 });
    } finally {
      clearInterval(timer);
    }
    assert.equal(eventsOf(home, 'quiet', 'checkin_received').length, 0);
    const print = targetPrint(target);
    await waitFor(() => readJsonl(join(home, 'agents', 'logs', 'system', 'pm-daemon.log')).some((l) => l.worker_id === 'quiet' && /symbolic link/.test(l.reason ?? '')), {
      what: 'the daemon to log the ignored check-in and why',
    });
    assert.equal(daemon.child.exitCode, null);
    await stopDaemon(daemon);
    assert.deepEqual(targetPrint(target), print, 'the daemon wrote nothing through the link');
  }));

  test('checkin.sh replaces a planted link with its own file: the target is neither read nor written', () => withHome({}, async ({ home, makeHome }) => {
    const outside = makeHome();
    openHome(home);
    writeSpecFile(home, 'active', pendingSpec('w1', 'fixture'));
    const target = join(outside, 'victim.json');
    // Looks like a check-in: were it read, its progress (77) would be carried into the new check-in.
    writeFileSync(target, JSON.stringify({ worker_id: 'w1', timestamp: '2024-01-01T00:00:00Z', status: 'in_progress', progress_pct: 77 }));
    const link = join(home, 'coordination', 'worker-checkins', 'w1.json');
    symlinkSync(target, link);
    const before = targetPrint(target);
    const result = await run(home, ['--status', 'blocked'], { script: 'checkin.sh', env: { WORKER_ID: 'w1', COMMIT_RELAY_RUN_ID: '' } });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(targetPrint(target), before, 'the target is untouched');
    assert.equal(lstatSync(link).isSymbolicLink(), false, 'the link was replaced, not written through');
    const written = JSON.parse(readFileSync(link, 'utf8'));
    assert.equal(written.status, 'blocked');
    assert.equal(written.progress_pct, 0, 'the progress did not come from the link target');
  }));

  test('checkin.sh does not hang on a link to a FIFO', () => withHome({}, async ({ home, makeHome }) => {
    const outside = makeHome();
    openHome(home);
    writeSpecFile(home, 'active', pendingSpec('w2', 'fixture'));
    const fifo = join(outside, 'pipe');
    execFileSync('mkfifo', [fifo]);
    symlinkSync(fifo, join(home, 'coordination', 'worker-checkins', 'w2.json'));
    const result = await run(home, ['--status', 'blocked'], { script: 'checkin.sh', env: { WORKER_ID: 'w2', COMMIT_RELAY_RUN_ID: '' }, timeoutMs: 20_000 });
    // A hang on the FIFO lasts for ever; 20 s leaves room for a slow start on a loaded machine (5 s did not).
    assert.equal(result.signal, null, 'checkin.sh finished on its own (it was not killed by the 20 s ceiling)');
    assert.equal(result.code, 0, result.stderr);
    assert.ok(lstatSync(fifo).isFIFO());
  }));

  test("a link planted as a worker's output.log is not written through when the worker starts", () => withHome({ types: { talker: { command: ['sh', '-c', 'echo worker output'], ...quick } } }, async ({ home, tracker, makeHome }) => {
    const outside = makeHome();
    const paths = openHome(home);
    writeSpecFile(home, 'active', pendingSpec('talker', 'talker'));
    const target = join(outside, 'precious.txt');
    writeFileSync(target, 'precious\n');
    mkdirSync(paths.workerLogDir('talker'), { recursive: true });
    symlinkSync(target, join(paths.workerLogDir('talker'), 'output.log'));
    const before = targetPrint(target);
    const result = await run(home, ['--spec', specPath(home, 'active', 'talker')], { script: 'start-worker.sh' });
    if (result.code === 0) tracker.pid(Number(result.stdout.trim()));
    // Refused before anything runs: nothing can write to the target later either.
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /cannot open .*output\.log: it is a symbolic link/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.deepEqual(targetPrint(target), before, 'the target is untouched');
    assert.match(readJson(specPath(home, 'failed', 'talker')).error, /symbolic link/);
  }));

  test("a worker's log folder planted as a link out of the home is refused at start", () => withHome({ types: { talker: { command: ['sh', '-c', 'echo worker output'], ...quick } } }, async ({ home, tracker, makeHome }) => {
    const outside = makeHome();
    const paths = openHome(home);
    writeSpecFile(home, 'active', pendingSpec('talker', 'talker'));
    const target = join(outside, 'logs-elsewhere');
    mkdirSync(target);
    writeFileSync(join(target, 'output.log'), 'precious\n');
    mkdirSync(paths.logsRoot, { recursive: true });
    symlinkSync(target, paths.workerLogDir('talker'));
    const before = targetPrint(join(target, 'output.log'));
    const result = await run(home, ['--spec', specPath(home, 'active', 'talker')], { script: 'start-worker.sh' });
    if (result.code === 0) tracker.pid(Number(result.stdout.trim()));
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /not a folder/);
    assert.deepEqual(targetPrint(join(target, 'output.log')), before);
  }));

  test("the log pipe's rotation does not write through links a worker plants as output.log.1 or output.log", () => withHome({}, async ({ tracker, makeHome }) => {
    const outside = makeHome();
    const big = join(outside, 'big.txt');
    const small = join(outside, 'small.txt');
    writeFileSync(big, 'x'.repeat(4096));
    writeFileSync(small, 'keep me\n');
    // Plants a link as output.log.1, writes 30 chunks' worth, replaces output.log by a link, writes 30 more.
    const script = 'd=$COMMIT_RELAY_HOME/agents/logs/$WORKER_ID; ln -s "$1" "$d/output.log.1"; i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done; '
      + 'sleep 0.2; rm -f "$d/output.log"; ln -s "$2" "$d/output.log"; while [ $i -lt 6000 ]; do echo "line $i"; i=$((i+1)); done';
    const home = makeHome({ rot: { command: ['sh', '-c', script, 'sh', small, big], stop_grace_seconds: 1, log_max_bytes: 1024 } });
    openHome(home);
    writeSpecFile(home, 'active', pendingSpec('rot', 'rot'));
    const beforeBig = targetPrint(big);
    const beforeSmall = targetPrint(small);
    await startAndAwaitShimExit(home, 'rot', tracker);
    // With a 1 KiB cap, the pipe's 64 KiB are 64 chunks: split may still be draining them when the shim gives up waiting.
    await waitFor(() => /line 5999\n$/.test(readFileSync(join(home, 'agents', 'logs', 'rot', 'output.log'), 'utf8')), { what: 'the last line in output.log' });
    assert.deepEqual(targetPrint(small), beforeSmall, 'the target of the link planted as output.log.1 is untouched');
    assert.deepEqual(targetPrint(big), beforeBig, 'the target of the link planted as output.log is untouched');
    const dir = join(home, 'agents', 'logs', 'rot');
    assert.equal(lstatSync(join(dir, 'output.log')).isSymbolicLink(), false);
    assert.equal(lstatSync(join(dir, 'output.log.1')).isSymbolicLink(), false);
  }));

  test('a worker cannot make its shim write the exit record through a link it planted', () => withHome({}, async ({ tracker, makeHome }) => {
    const outside = makeHome();
    const target = join(outside, 'victim.txt');
    const home = makeHome({ hostile: { command: ['sh', join(SECURITY_FIXTURES, 'plant-exit-link.sh'), target], stop_grace_seconds: 1 } });
    openHome(home);
    writeFileSync(target, 'precious\n');
    writeSpecFile(home, 'active', pendingSpec('hostile', 'hostile'));
    const before = targetPrint(target);
    await startAndAwaitShimExit(home, 'hostile', tracker);
    assert.deepEqual(targetPrint(target), before, `the target is untouched, holds ${JSON.stringify(readFileSync(target, 'utf8'))}`);
  }));
});
