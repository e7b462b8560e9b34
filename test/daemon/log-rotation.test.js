import assert from 'node:assert/strict';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventsOf } from '../helpers/daemon.js';
import { QUICK, run, waitFor } from '../helpers/home.js';
import { isLive, pidsWithEnv } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';

const MAX = 64 * 1024;
/**
 * The bound asserted, as a multiple of log_max_bytes. The shim's log pipe (scripts/lib/worker-shim.sh) blocks the
 * writer instead of racing it: output.log holds at most what the previous runs left (under the cap: the spawner
 * rotates a log at or over it) plus the run header and one chunk of at most log_max_bytes, then one chunk at a time;
 * output.log.1 holds what output.log held. So under 4 x at every moment, however fast the worker writes.
 */
const BOUND = 4;

/** @param {string} file */
const sizeOf = (file) => {
  try {
    return lstatSync(file).size;
  } catch {
    return 0;
  }
};

test('a worker flooding its log at full speed (`yes`) stays within a small multiple of log_max_bytes at every sample, and the daemon keeps supervising', () =>
  withHome({ types: { flood: { command: ['yes', '{worker_id}'], ...QUICK, startup_grace_seconds: 60, time_limit_seconds: 5, max_restarts: 0, log_max_bytes: MAX } } }, async ({ home, startDaemon }) => {
    const created = await run(home, ['create-task', '--description', 'flood', '--worker-type', 'flood']);
    assert.equal(created.code, 0, created.stderr);
    const workerId = `worker-flood-${created.stdout.trim().slice(5)}`;
    const log = join(home, 'agents', 'logs', workerId, 'output.log');
    await startDaemon();
    await waitFor(() => sizeOf(`${log}.1`) > 0, { what: 'the flood to fill a chunk' });

    // Sample both files every millisecond or so, for 3 s of flooding.
    const started = Date.now();
    let samples = 0;
    let worst = 0;
    let rotations = 0;
    let lastRotatedIno = 0;
    await waitFor(
      () => {
        const current = sizeOf(log);
        let rotated = 0;
        try {
          const stat = lstatSync(`${log}.1`);
          rotated = stat.size;
          if (stat.ino !== lastRotatedIno) rotations += 1;
          lastRotatedIno = stat.ino;
        } catch {
          // Between two renames.
        }
        worst = Math.max(worst, current + rotated);
        samples += 1;
        return Date.now() - started > 3000;
      },
      { what: '3 s of samples', intervalMs: 1, timeoutMs: 20_000 },
    );
    process.stdout.write(`# ${samples} samples; ${rotations} rotations seen; worst output.log + output.log.1 = ${worst} bytes (${(worst / MAX).toFixed(2)} x log_max_bytes)\n`);
    assert.ok(rotations > 10, `the worker flooded (${rotations} rotations seen)`);
    assert.ok(worst <= BOUND * MAX, `output.log + output.log.1 peaked at ${worst} bytes, over ${BOUND} x ${MAX}`);
    assert.match(readFileSync(`${log}.1`, 'utf8'), new RegExp(`^(${workerId}\n)+$`), 'whole lines only');

    // Still supervising: the time limit stops the flooder (and its log pipe), and the spec moves to failed/.
    await waitFor(() => eventsOf(home, workerId, 'worker_failed').length === 1, { what: 'the flooder stopped at its time limit and failed', timeoutMs: 20_000 });
    assert.equal(eventsOf(home, workerId, 'timeout_exceeded').length, 1);
    await waitFor(() => pidsWithEnv('WORKER_ID', workerId).filter(isLive).length === 0, { what: 'no process of the run left (split and its filters included)' });
    const health = await run(home, [], { script: 'health-check-pm-daemon.sh' });
    assert.equal(health.code, 0, health.stdout + health.stderr);
  }));

test('the log pipe: the run header starts output.log, the last lines a worker prints are in the log at its exit event, and no process is left', () =>
  withHome(
    {
      types: {
        talk: {
          command: ['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo "line $i of {worker_id}"; done; echo "last words of {worker_id}" >&2'],
          ...QUICK,
          startup_grace_seconds: 60,
          max_restarts: 0,
          log_max_bytes: MAX,
        },
      },
    },
    async ({ home, startDaemon }) => {
      const created = await run(home, ['create-task', '--description', 'talk', '--worker-type', 'talk']);
      assert.equal(created.code, 0, created.stderr);
      const workerId = `worker-talk-${created.stdout.trim().slice(5)}`;
      const log = join(home, 'agents', 'logs', workerId, 'output.log');
      await startDaemon();
      await waitFor(() => eventsOf(home, workerId, 'worker_exited').length + eventsOf(home, workerId, 'worker_completed').length > 0, { what: 'the worker to end', timeoutMs: 20_000 });
      const text = readFileSync(log, 'utf8');
      assert.ok(text.endsWith(`last words of ${workerId}\n`), `the last line is in output.log (${JSON.stringify(text.slice(-80))})`);
      // 2000 lines (about 100 KB) with a 64 KiB cap: one rotation, the header went with the first chunk to output.log.1.
      const rotated = readFileSync(`${log}.1`, 'utf8');
      assert.match(rotated, /^=== \S+ run \S+ of /, 'the run header starts the run');
      assert.ok(sizeOf(log) + rotated.length <= BOUND * MAX);
      await waitFor(() => pidsWithEnv('WORKER_ID', workerId).filter(isLive).length === 0, { what: 'no process of the run left' });
    },
  ));
