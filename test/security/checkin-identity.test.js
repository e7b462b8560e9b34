// A check-in cannot claim another worker's id to keep it looking alive.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openHome } from '../../dist/store/home.js';
import { eventsOf } from '../helpers/daemon.js';
import { FIXTURES, readJson, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { diffSnapshots, snapshotTree } from '../helpers/snapshots.js';
import { pendingSpec, specPath, writeSpecFile } from '../helpers/specs.js';

const SILENT = { command: ['sh', join(FIXTURES, 'forever.sh')], stop_grace_seconds: 1, startup_grace_seconds: 0, restart_backoff_seconds: 0, max_restarts: 0 };

describe('check-in identity', () => {
  test('checkin.sh (and the checkin command) inside worker a refuses --worker-id b, one line, nothing written', () => withHome({}, async ({ home }) => {
    openHome(home);
    writeSpecFile(home, 'active', pendingSpec('a', 'fixture'));
    writeSpecFile(home, 'active', pendingSpec('b', 'fixture'));
    const before = snapshotTree(join(home, 'coordination'));
    for (const [args, options] of /** @type {Array<[string[], { script?: string }]>} */ ([
      [['--worker-id', 'b', '--progress', '90'], { script: 'checkin.sh' }],
      [['--worker-id=b', '--status', 'completed'], { script: 'checkin.sh' }],
      [['checkin', '--worker-id', 'b', '--progress', '90'], {}],
    ])) {
      const result = await run(home, args, { ...options, env: { WORKER_ID: 'a', COMMIT_RELAY_RUN_ID: 'run-a' } });
      assert.notEqual(result.code, 0, `${args.join(' ')} must be refused`);
      assert.match(result.stderr, /is not this worker.*checks in only for itself/);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
    assert.deepEqual(diffSnapshots(before, snapshotTree(join(home, 'coordination'))), []);
    assert.equal(existsSync(join(home, 'coordination', 'worker-checkins', 'b.json')), false);
  }));

  test("a check-in file carrying another run's run_id is ignored: the worker goes late, then stalled", () => withHome({ types: { silent: { ...SILENT, checkin_timeout_seconds: 1, stall_timeout_seconds: 2.5 } } }, async ({ home, startDaemon, defer }) => {
    openHome(home);
    writeSpecFile(home, 'active', pendingSpec('victim', 'silent'));
    writeSpecFile(home, 'active', pendingSpec('control', 'silent'));
    await startDaemon();
    const runOf = (id) => waitFor(() => readJson(specPath(home, 'active', id)).execution?.run_id, { what: `${id} running` });
    const victimRun = await runOf('victim');
    const controlRun = await runOf('control');
    assert.notEqual(victimRun, controlRun);

    // Fresh check-ins every 100 ms with moving progress: the control's with its own run, the victim's with another.
    const dir = join(home, 'coordination', 'worker-checkins');
    let n = 0;
    const write = (id, runId) => {
      const file = join(dir, `${id}.json`);
      writeFileSync(`${file}.tmp`, JSON.stringify({ worker_id: id, timestamp: new Date().toISOString(), status: 'in_progress', progress_pct: n % 100, run_id: runId }));
      renameSync(`${file}.tmp`, file);
    };
    const timer = setInterval(() => {
      n += 1;
      write('victim', controlRun);
      write('control', controlRun);
    }, 100);
    defer(() => clearInterval(timer));
    // And through checkin.sh with WORKER_ID scrubbed: the command accepts it, but the record names the caller's run.
    const sneaky = await run(home, ['--worker-id', 'victim', '--progress', '55'], { script: 'checkin.sh', env: { WORKER_ID: '', COMMIT_RELAY_RUN_ID: controlRun } });
    assert.equal(sneaky.code, 0, sneaky.stderr);

    await waitFor(() => eventsOf(home, 'victim', 'worker_stalled').length >= 1, { what: 'the victim to be stalled', timeoutMs: 15_000 });
    const late = eventsOf(home, 'victim', 'missed_checkin');
    assert.equal(late.length, 1, 'late once');
    assert.ok(late[0].timestamp <= eventsOf(home, 'victim', 'worker_stalled')[0].timestamp, 'late, then stalled');
    assert.equal(eventsOf(home, 'victim', 'checkin_received').length, 0, "no check-in with another run's token counted");
    assert.ok(eventsOf(home, 'control', 'checkin_received').length >= 1, 'the same writer, with the right token, is heard');
    assert.equal(eventsOf(home, 'control', 'worker_stalled').length, 0);
    assert.equal(eventsOf(home, 'control', 'missed_checkin').length, 0);
  }));

  test('fresh check-ins with the right run_id do not keep a killed worker alive: it is a zombie', () => withHome({ types: { silent: { ...SILENT, checkin_timeout_seconds: 30, stall_timeout_seconds: 60 } } }, async ({ home, startDaemon, defer }) => {
    openHome(home);
    writeSpecFile(home, 'active', pendingSpec('ghost', 'silent'));
    await startDaemon();
    const { pid, run_id: runId } = await waitFor(() => readJson(specPath(home, 'active', 'ghost')).execution?.run_id && readJson(specPath(home, 'active', 'ghost')).execution, { what: 'ghost running' });
    const file = join(home, 'coordination', 'worker-checkins', 'ghost.json');
    let n = 0;
    const timer = setInterval(() => {
      n += 1;
      writeFileSync(`${file}.tmp`, JSON.stringify({ worker_id: 'ghost', timestamp: new Date().toISOString(), status: 'in_progress', progress_pct: n % 100, run_id: runId }));
      renameSync(`${file}.tmp`, file);
    }, 100);
    defer(() => clearInterval(timer));
    await waitFor(() => eventsOf(home, 'ghost', 'checkin_received').length >= 1, { what: 'check-ins heard while it lives' });
    process.kill(-pid, 'SIGKILL');
    await waitFor(() => eventsOf(home, 'ghost', 'zombie_detected').length === 1, { what: 'zombie_detected despite fresh check-ins', timeoutMs: 10_000 });
    assert.match(readFileSync(file, 'utf8'), new RegExp(runId));
  }));
});
