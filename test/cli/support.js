// Helpers for the bad-input contract: one line on stderr, a non-zero exit, and no change under the home.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { appendEvent } from '../../dist/store/activity-log.js';
import { openHome } from '../../dist/store/home.js';
import { buildTask, enqueueTask } from '../../dist/store/tasks.js';
import { makeHome, removeHome, run } from '../helpers/home.js';
import { snapshotTree } from '../helpers/snapshots.js';

/** A temp home with its layout, one queued task, one event and one pending spec, so that a change to any of them shows. */
export async function makeSeededHome() {
  const home = makeHome({ implementation: { command: ['node', 'w.js', '{worker_id}'] }, review: { command: ['node', 'r.js'] } });
  const paths = openHome(home);
  await enqueueTask(paths, buildTask({ description: 'seed', priority: 'low', workerType: 'implementation', metadata: {} }));
  appendEvent(paths, { event: 'task_created', data: { seed: true } });
  return { home, paths };
}

/** Asserts the contract for bad input: non-zero exit, nothing on stdout, exactly one line on stderr matching `message`. */
export function assertOneLineError(result, message) {
  assert.notEqual(result.code, 0, `exit code (stderr: ${result.stderr})`);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^commit-relay: [^\n]+\n$/, `one line on stderr, got ${JSON.stringify(result.stderr)}`);
  assert.match(result.stderr, message);
}

/** Runs args against a seeded home and checks the bad-input contract, and that no file or folder changed. */
export async function expectRefused(args, message, prepare) {
  await runRefused(args, message, prepare);
}

/**
 * expectRefused, returning what it printed. With `script`, runs scripts/<script> instead of the CLI;
 * `input` goes to its stdin.
 */
export async function runRefused(args, message, prepare, { script, input } = /** @type {{ script?: string, input?: string }} */ ({})) {
  const { home, paths } = await makeSeededHome();
  try {
    if (prepare) prepare(paths);
    const before = snapshotTree(home);
    const result = await run(home, args, { script, input });
    assertOneLineError(result, message);
    assert.deepEqual(snapshotTree(home), before);
    return result;
  } finally {
    removeHome(home);
  }
}

/** The two tests every command takes: COMMIT_RELAY_HOME naming a file, or a missing folder, is refused in one line and left as it is. */
export function testUnusableHome(args) {
  test('COMMIT_RELAY_HOME names a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-test-'));
    const file = join(dir, 'not-a-home');
    writeFileSync(file, 'x');
    try {
      assertOneLineError(await run(file, args), /home .*not-a-home is not a folder/);
      assert.equal(readFileSync(file, 'utf8'), 'x');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('COMMIT_RELAY_HOME names a missing folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-test-'));
    const missing = join(dir, 'missing');
    try {
      assertOneLineError(await run(missing, args), /home .*missing is not usable: ENOENT/);
      assert.equal(existsSync(missing), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
