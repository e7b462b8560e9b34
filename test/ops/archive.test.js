import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { archiveFailedWorkers } from '../../dist/ops/archive.js';
import { openHome } from '../../dist/store/home.js';
import { spawn } from 'node:child_process';
import { CLI, coord, readJson, readJsonl, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { snapshotTree } from '../helpers/snapshots.js';
import { runningSpec, writeSpecFile } from '../helpers/specs.js';


const failedSpec = (id, error) => runningSpec(id, { status: 'failed', error, execution: { completed_at: new Date().toISOString(), restart_count: 2, exit_code: 1 } });
const archivedRoot = ({ home }) => coord(home, 'worker-specs', 'archived');
const batches = ({ home }) => readdirSync(archivedRoot({ home })).filter((n) => n.startsWith('batch-'));

function seed({ home }) {
  const files = {
    'worker-a': writeSpecFile(home, 'failed', failedSpec('worker-a', 'Zombie worker - no process found')),
    'worker-b': writeSpecFile(home, 'failed', failedSpec('worker-b', 'exited with code 1 after 2 restarts (max_restarts 2)')),
  };
  files['worker-c'] = join(coord(home, 'worker-specs', 'failed'), 'worker-c.json');
  writeFileSync(files['worker-c'], '{ "worker_id": "worker-c", truncated');
  writeSpecFile(home, 'active', runningSpec('still-running'));
  return Object.fromEntries(Object.entries(files).map(([id, file]) => [id, readFileSync(file)]));
}

describe('archive-failed-workers', () => {
  test('moves every failed spec byte for byte into a new batch with a complete manifest and one event', () => withHome({}, async ({ home }) => {
    const original = seed({ home });
    const result = await run(home, [], { script: 'archive-failed-workers.sh' });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^archived 3 failed worker spec\(s\) to coordination\/worker-specs\/archived\/batch-\d{8}T\d{6}Z-[0-9a-f]{6}\//);
    assert.match(result.stdout, /worker-a {2}Zombie worker - no process found/);
    assert.deepEqual(readdirSync(coord(home, 'worker-specs', 'failed')), []);
    assert.ok(existsSync(coord(home, 'worker-specs', 'active', 'still-running.json')));
    const [batch] = batches({ home });
    const dir = join(archivedRoot({ home }), batch);
    assert.deepEqual(readdirSync(dir).sort(), ['MANIFEST.json', 'worker-a.json', 'worker-b.json', 'worker-c.json']);
    for (const [id, bytes] of Object.entries(original)) assert.deepEqual(readFileSync(join(dir, `${id}.json`)), bytes, id);
    const manifest = readJson(join(dir, 'MANIFEST.json'));
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.batch, batch);
    assert.equal(manifest.count, 3);
    assert.deepEqual([...manifest.worker_ids].sort(), ['worker-a', 'worker-b', 'worker-c']);
    const byId = Object.fromEntries(manifest.workers.map((w) => [w.worker_id, w]));
    assert.equal(byId['worker-a'].error, 'Zombie worker - no process found');
    assert.equal(byId['worker-b'].restart_count, 2);
    assert.match(byId['worker-c'].error, /^unreadable spec: /);
    assert.ok(manifest.created_at && manifest.completed_at);
    const events = readJsonl(coord(home, 'pm-activity.jsonl')).filter((e) => e.event === 'worker_archived');
    assert.equal(events.length, 1);
    assert.equal(events[0].data.batch, batch);
    assert.equal(events[0].data.count, 3);

    // A second run has nothing left to do.
    const again = await run(home, ['archive-failed-workers', '--json']);
    assert.equal(again.code, 0);
    const json = JSON.parse(again.stdout);
    assert.equal(json.batch, null);
    assert.deepEqual(json.archived, []);
    assert.equal(batches({ home }).length, 1);
  }));

  test('--dry-run lists what it would move and changes no byte', () => withHome({}, async ({ home }) => {
    seed({ home });
    const before = snapshotTree(home);
    const result = await run(home, ['--dry-run'], { script: 'archive-failed-workers.sh' });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^would archive 3 failed worker spec\(s\) from coordination\/worker-specs\/failed\/ \(dry run: nothing changed\)/);
    assert.match(result.stdout, /worker-b {2}exited with code 1/);
    const planned = await archiveFailedWorkers(openHome(home), { dryRun: true });
    assert.equal(planned.dry_run, true);
    assert.equal(planned.archived.length, 3);
    assert.deepEqual(snapshotTree(home), before);
  }));

  test('nothing to archive: says so, exit 0, no batch, no event', () => withHome({}, async ({ home }) => {
    const result = await run(home, ['archive-failed-workers']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^nothing to archive: coordination\/worker-specs\/failed\/ holds no spec$/m);
    assert.deepEqual(batches({ home }), []);
    assert.equal(readJsonl(coord(home, 'pm-activity.jsonl')).length, 0);
  }));

  test('a spec that leaves failed/ meanwhile is reported, never lost or duplicated', () => withHome({}, async ({ home }) => {
    seed({ home });
    const paths = openHome(home);
    // Two archivers at once: each spec ends in exactly one batch.
    const [one, two] = await Promise.all([archiveFailedWorkers(paths, { dryRun: false }), archiveFailedWorkers(paths, { dryRun: false })]);
    const moved = [...one.archived, ...two.archived].map((e) => e.worker_id).sort();
    assert.deepEqual(moved, ['worker-a', 'worker-b', 'worker-c']);
    const everywhere = batches({ home }).flatMap((b) => readdirSync(join(archivedRoot({ home }), b)).filter((n) => n !== 'MANIFEST.json'));
    assert.deepEqual(everywhere.sort(), ['worker-a.json', 'worker-b.json', 'worker-c.json']);
    for (const b of batches({ home })) assert.equal(readJson(join(archivedRoot({ home }), b, 'MANIFEST.json')).status, 'complete');
    assert.equal(one.failures + two.failures, 0);
  }));

  test('killed mid-run, it loses no spec: each is in failed/ or the batch, and a rerun finishes', { timeout: 30_000 }, () => withHome({}, async ({ home, tracker }) => {
    const ids = Array.from({ length: 300 }, (_, i) => `worker-${String(i).padStart(3, '0')}`);
    for (const id of ids) writeSpecFile(home, 'failed', failedSpec(id, `failure ${id}`));
    const child = spawn(process.execPath, [CLI, 'archive-failed-workers'], { env: { ...process.env, COMMIT_RELAY_HOME: home }, stdio: 'ignore' });
    tracker.pid(child.pid);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await waitFor(() => batches({ home }).some((b) => readdirSync(join(archivedRoot({ home }), b)).length > 1), { intervalMs: 5, timeoutMs: 20_000, what: 'the first moved spec' });
    child.kill('SIGKILL');
    await exited;
    const [batch] = batches({ home });
    const inBatch = readdirSync(join(archivedRoot({ home }), batch)).filter((n) => n !== 'MANIFEST.json');
    const inFailed = readdirSync(coord(home, 'worker-specs', 'failed'));
    assert.deepEqual([...inBatch, ...inFailed].sort(), ids.map((id) => `${id}.json`));
    const manifest = readJson(join(archivedRoot({ home }), batch, 'MANIFEST.json'));
    if (inFailed.length > 0) {
      assert.equal(manifest.status, 'in_progress');
      assert.deepEqual([...manifest.worker_ids].sort(), ids);
    }
    const rerun = await run(home, ['archive-failed-workers', '--json']);
    assert.equal(rerun.code, 0);
    assert.equal(JSON.parse(rerun.stdout).archived.length, inFailed.length);
    assert.deepEqual(readdirSync(coord(home, 'worker-specs', 'failed')), []);
  }));
});
