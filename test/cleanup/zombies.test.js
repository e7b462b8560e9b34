import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadWorkerTypes } from '../../dist/config/load.js';
import { openHome } from '../../dist/store/home.js';
import { startWorker } from '../../dist/worker/start.js';
import { eventsOf, stopDaemon } from '../helpers/daemon.js';
import { FIXTURES, readJson, run, waitFor } from '../helpers/home.js';
import { isAlive, spawnUnrelated } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { diffSnapshots, snapshotTree } from '../helpers/snapshots.js';
import { buildSpec, specPath, writeSpecFile } from '../helpers/specs.js';

/** A pending spec of the fixture type in active/ (fields override); its file. */
const writeSpec = (home, id, fields = {}) => writeSpecFile(home, 'active', buildSpec(id, { task: { description: 'a fixture worker' }, execution: { exit_code: null, signal: null }, ...fields }));

/** Starts a worker (in-process, as start-worker.sh does), then kills its whole group: a zombie. */
async function makeZombie(home, id, tracker) {
  const file = writeSpec(home, id);
  const paths = openHome(home);
  const started = await startWorker({ paths, workerTypes: loadWorkerTypes(paths) }, id);
  const pid = started.pid;
  assert.equal(readJson(file).execution.pid, pid);
  tracker.group(pid);
  process.kill(-pid, 'SIGKILL');
  await waitFor(() => !isAlive(pid), { what: 'the worker to die' });
  return pid;
}

describe('cleanup-zombie-workers', () => {
  test('--dry-run lists each zombie with its evidence and leaves every file byte-identical', () => withHome({}, async ({ home, tracker }) => {
    await run(home, ['validate']);
    await makeZombie(home, 'worker-z1', tracker);
    await makeZombie(home, 'worker-z2', tracker);
    writeSpec(home, 'worker-idle'); // pending: not a zombie
    const before = snapshotTree(home);
    const result = await run(home, ['--dry-run'], { script: 'cleanup-zombie-workers.sh' });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /ZOMBIE: worker-z1 .*no process with pid \d+/);
    assert.match(result.stdout, /ZOMBIE: worker-z2 /);
    assert.match(result.stdout, /2 zombie workers found \(dry run: nothing changed\)/);
    assert.deepEqual(diffSnapshots(before, snapshotTree(home)), []);
    const json = JSON.parse((await run(home, ['--dry-run', '--json'], { script: 'cleanup-zombie-workers.sh' })).stdout);
    assert.equal(json.count, 2);
    assert.deepEqual(diffSnapshots(before, snapshotTree(home)), []);
  }));

  test('cleans up: spec to failed/, status failed, the zombie error, one event', () => withHome({}, async ({ home, tracker }) => {
    await run(home, ['validate']);
    await makeZombie(home, 'worker-z1', tracker);
    const result = await run(home, [], { script: 'cleanup-zombie-workers.sh' });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!existsSync(specPath(home, 'active', 'worker-z1')));
    const spec = readJson(specPath(home, 'failed', 'worker-z1'));
    assert.equal(spec.status, 'failed');
    assert.equal(spec.error, 'Zombie worker - no process found');
    assert.equal(spec.execution.pid, null);
    assert.equal(eventsOf(home, 'worker-z1', 'worker_zombie_cleaned').length, 1);
    const again = await run(home, [], { script: 'cleanup-zombie-workers.sh' });
    assert.match(again.stdout, /0 zombie workers cleaned up/);
  }));

  test('a pid reused by an unrelated process is a zombie, and that process is left alone', () => withHome({}, async ({ home, tracker }) => {
    await run(home, ['validate']);
    const unrelated = spawnUnrelated(tracker);
    writeSpec(home, 'worker-reused', { status: 'running', execution: { started_at: new Date().toISOString(), pid: unrelated, process_start_ticks: 1, boot_id: 'x', restart_count: 0, run_id: 'run-x' } });
    const dry = await run(home, ['--dry-run'], { script: 'cleanup-zombie-workers.sh' });
    assert.match(dry.stdout, new RegExp(`pid ${unrelated} now belongs to another process`));
    await run(home, [], { script: 'cleanup-zombie-workers.sh' });
    assert.ok(existsSync(specPath(home, 'failed', 'worker-reused')));
    assert.ok(isAlive(unrelated), 'the unrelated process survives');
  }));

  test('with an id: only that worker; a worker that is not a zombie is refused with why', () => withHome({}, async ({ home, tracker }) => {
    await run(home, ['validate']);
    await makeZombie(home, 'worker-z1', tracker);
    await makeZombie(home, 'worker-z2', tracker);
    const live = writeSpec(home, 'worker-live');
    await run(home, ['--spec', live], { script: 'start-worker.sh' });
    tracker.group(readJson(live).execution.pid);
    const refused = await run(home, ['worker-live'], { script: 'cleanup-zombie-workers.sh' });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /worker "worker-live" is not a zombie: its process \d+ is alive/);
    const missing = await run(home, ['worker-nope'], { script: 'cleanup-zombie-workers.sh' });
    assert.notEqual(missing.code, 0);
    const bad = await run(home, ['../etc'], { script: 'cleanup-zombie-workers.sh' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid worker id/);
    const one = await run(home, ['worker-z1'], { script: 'cleanup-zombie-workers.sh' });
    assert.equal(one.code, 0, one.stderr);
    assert.ok(existsSync(specPath(home, 'failed', 'worker-z1')));
    assert.ok(existsSync(specPath(home, 'active', 'worker-z2')), 'the other zombie is untouched');
  }));

  test('a worker that finished while nothing watched is not a zombie', () => withHome({ types: { fixture: { command: ['sh', join(FIXTURES, 'exit-with.sh'), '0', '0'] } } }, async ({ home }) => {
    await run(home, ['validate']);
    const file = writeSpec(home, 'worker-done');
    await run(home, ['--spec', file], { script: 'start-worker.sh' });
    await waitFor(() => existsSync(join(home, 'coordination', 'worker-exits', 'worker-done.json')), { what: 'exit record' });
    const dry = await run(home, ['--dry-run', '--json'], { script: 'cleanup-zombie-workers.sh' });
    assert.equal(JSON.parse(dry.stdout).count, 0);
  }));

  test('safe while the daemon runs: each zombie is handled once', () => withHome({}, async ({ home, tracker, startDaemon }) => {
    await run(home, ['validate']);
    for (let i = 0; i < 3; i += 1) await makeZombie(home, `worker-z${i}`, tracker);
    const daemon = await startDaemon({ env: { PM_LOOP_INTERVAL: '60' } });
    try {
      await run(home, [], { script: 'cleanup-zombie-workers.sh' });
      for (let i = 0; i < 3; i += 1) {
        const id = `worker-z${i}`;
        const handled = eventsOf(home, id).filter((e) => ['worker_zombie_cleaned', 'zombie_detected'].includes(e.event));
        assert.ok(handled.length >= 1, `${id} handled`);
        const inFailed = existsSync(specPath(home, 'failed', id));
        const inActive = existsSync(specPath(home, 'active', id));
        assert.ok(inFailed !== inActive, `${id} in exactly one folder`);
        if (inFailed) assert.equal(eventsOf(home, id, 'worker_zombie_cleaned').length, 1);
      }
    } finally {
      await stopDaemon(daemon);
    }
  }));
});
