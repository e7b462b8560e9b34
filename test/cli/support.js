// Helpers for the bad-input contract: one line on stderr, a non-zero exit, and no change under the home.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { appendEvent } from '../../dist/store/activity-log.js';
import { openHome } from '../../dist/store/home.js';
import { buildTask, enqueueTask } from '../../dist/store/tasks.js';
import { makeHome, removeHome, run } from '../helpers/index.js';

/** Every folder and file under root: relative path -> 'dir' or the file's bytes (base64). */
export function snapshotTree(root) {
  const out = {};
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      const rel = relative(root, full);
      if (entry.isDirectory()) {
        out[`${rel}/`] = 'dir';
        walk(full);
      } else {
        out[rel] = readFileSync(full).toString('base64');
      }
    }
  };
  walk(root);
  return out;
}

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
  const { home, paths } = await makeSeededHome();
  try {
    if (prepare) prepare(paths);
    const before = snapshotTree(home);
    assertOneLineError(await run(home, args), message);
    assert.deepEqual(snapshotTree(home), before);
  } finally {
    removeHome(home);
  }
}
