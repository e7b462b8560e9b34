// What is left of a run's process group is stopped when every live member carries the run's token,
// also while the worker forks short-lived commands (a member that ends between the reads of its
// stat and its environment is nobody's, not a stranger).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { carriesRunToken, liveGroupMembers } from '../../dist/process/group.js';
import { stopRunRemnants } from '../../dist/process/terminate.js';
import { waitFor } from '../helpers/home.js';
import { isAlive, pidOf, ProcessTracker } from '../helpers/processes.js';

test('a run whose worker forks without pause is still stopped as ours, every time', async () => {
  const tracker = new ProcessTracker();
  try {
    for (let i = 0; i < 20; i += 1) {
      const runId = `run-remnants-${process.pid}-${i}`;
      const child = spawn('sh', ['-c', 'while :; do /bin/true; done'], { detached: true, stdio: 'ignore', env: { ...process.env, COMMIT_RELAY_RUN_ID: runId } });
      tracker.group(child.pid);
      // The leader runs its loop (each /bin/true lives a millisecond: on a loaded machine a scan of /proc may never
      // catch one, so the wait is for the leader, which forks from then on).
      await waitFor(() => liveGroupMembers(pidOf(child)).length >= 1, { what: 'the group forking', intervalMs: 5 });
      const outcome = await stopRunRemnants(pidOf(child), runId, 1000);
      assert.ok(outcome === 'terminated' || outcome === 'killed', `attempt ${i}: ${outcome}`);
    }
  } finally {
    tracker.cleanup();
  }
});

test('a live member without the token still makes the group not ours (left alone)', async () => {
  const tracker = new ProcessTracker();
  try {
    const runId = `run-remnants-${process.pid}-mixed`;
    // The leader carries the token; its child is started with the token removed.
    const child = spawn('sh', ['-c', 'env -u COMMIT_RELAY_RUN_ID sleep 30 & wait'], { detached: true, stdio: 'ignore', env: { ...process.env, COMMIT_RELAY_RUN_ID: runId } });
    tracker.group(child.pid);
    // Wait for the child to be sleep itself: before its exec, `env` (and the forked shell) still
    // carry the token, and a read of a process in the middle of its exec can miss it.
    const isTokenlessSleep = (/** @type {number} */ pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep' && !carriesRunToken(pid, runId);
      } catch {
        return false;
      }
    };
    await waitFor(() => liveGroupMembers(pidOf(child)).some(isTokenlessSleep), { what: 'the tokenless child' });
    assert.equal(await stopRunRemnants(pidOf(child), runId, 500), 'not_ours');
    assert.equal(isAlive(pidOf(child)), true, 'nothing was signalled');
  } finally {
    tracker.cleanup();
  }
});
