import assert from 'node:assert/strict';
import { fstatSync, lstatSync, readdirSync, readFileSync, readSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
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
          command: ['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo "line $i of {worker_id}"; done; echo "via /dev/stdout" >/dev/stdout; echo "via /dev/stderr" >/dev/stderr; echo "last words of {worker_id}" >&2'],
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
      assert.ok(text.endsWith(`via /dev/stdout\nvia /dev/stderr\nlast words of ${workerId}\n`), `the last lines are in output.log, /dev/stdout and /dev/stderr usable (a pipe, not a socket) (${JSON.stringify(text.slice(-80))})`);
      // 2000 lines (about 100 KB) with a 64 KiB cap: one rotation, the header went with the first chunk to output.log.1.
      const rotated = readFileSync(`${log}.1`, 'utf8');
      assert.match(rotated, /^=== \S+ run \S+ of /, 'the run header starts the run');
      assert.ok(sizeOf(log) + rotated.length <= BOUND * MAX);
      await waitFor(() => pidsWithEnv('WORKER_ID', workerId).filter(isLive).length === 0, { what: 'no process of the run left' });
    },
  ));

test('the log pipes\' pool: one mkfifo makes 32, each start claims its own and removes its name, a planted file is refused, a dead claim is removed, no mkfifo is reported', () =>
  withHome({}, async ({ home }) => {
    const { openLogPipe, closeLogPipe, logPipeDir } = await import('../../dist/process/log-pipe.js');
    const { homePaths } = await import('../../dist/store/home.js');
    const paths = homePaths(home);
    const dir = logPipeDir(paths);
    const first = openLogPipe(paths);
    assert.ok(!('error' in first), JSON.stringify(first));
    assert.equal((lstatSync(dir).mode & 0o777).toString(8), '700');
    assert.equal(readdirSync(dir).filter((n) => n.startsWith('p-')).length, 31, 'one batch of 32, one claimed');
    assert.ok(readdirSync(dir).every((n) => n.startsWith('p-')), 'the claimed name is removed');
    // A real pipe: what is written to the write end is read from the read end.
    assert.ok(fstatSync(first.write).isFIFO());
    writeSync(first.write, 'through the pipe\n');
    const buffer = Buffer.alloc(64);
    assert.equal(buffer.subarray(0, readSync(first.read, buffer)).toString(), 'through the pipe\n');
    closeLogPipe(first);

    // Each claim is a different pipe; a regular file planted among the FIFOs is refused (and removed).
    writeFileSync(join(dir, 'p-0000planted'), 'not a fifo');
    const pipes = Array.from({ length: 40 }, () => openLogPipe(paths));
    assert.ok(pipes.every((p) => !('error' in p)), 'past the pool, a new batch');
    assert.ok(!readdirSync(dir).includes('p-0000planted'), 'the planted file is removed, never used');
    const inodes = new Set(pipes.map((p) => ('error' in p ? 0 : fstatSync(p.read).ino)));
    assert.equal(inodes.size, 40, 'forty starts, forty pipes');
    for (const p of pipes) if (!('error' in p)) closeLogPipe(p);

    // A claim a dead starter left (renamed, never opened) goes with the next batch once over a minute old; a fresh one stays.
    writeFileSync(join(dir, 'c-dead'), '');
    writeFileSync(join(dir, 'c-fresh'), '');
    const old = new Date(Date.now() - 120_000);
    utimesSync(join(dir, 'c-dead'), old, old);
    for (const name of readdirSync(dir)) if (name.startsWith('p-')) unlinkSync(join(dir, name));
    const next = openLogPipe(paths);
    assert.ok(!('error' in next));
    closeLogPipe(next);
    assert.ok(!readdirSync(dir).includes('c-dead') && readdirSync(dir).includes('c-fresh'));

    // No mkfifo (an empty PATH) and an empty pool: the reason, and a worker started then writes to its log directly, saying so.
    for (const name of readdirSync(dir)) unlinkSync(join(dir, name));
    const savedPath = process.env.PATH;
    process.env.PATH = '';
    try {
      const none = openLogPipe(paths);
      assert.ok('error' in none && /mkfifo/.test(none.error), JSON.stringify(none));
      const { spawnWorker, workerLogFile } = await import('../../dist/process/spawn.js');
      const { WORKER_TYPE_DEFAULTS } = await import('../../dist/contract/worker-types.js');
      const workerType = { ...WORKER_TYPE_DEFAULTS, command: ['/bin/sh', '-c', 'echo unpiped'] };
      const started = spawnWorker(paths, { workerId: 'w-nopipe', taskId: null, description: 'x', workerType, restartCount: 0, baseEnv: { ...process.env, PATH: savedPath } });
      await new Promise((resolve) => started.child.once('exit', () => resolve(undefined)));
      assert.match(readFileSync(workerLogFile(paths, 'w-nopipe'), 'utf8'), /\(no log pipe: .*mkfifo.*; this run's log is not bounded\)\nunpiped\n$/);
      assert.match(String(started.logUnbounded), /mkfifo/, 'the start says why its log is not bounded');
    } finally {
      process.env.PATH = savedPath;
    }
  }));

test('a start that gets no log pipe says so where operators look: a daemon_warning log_unbounded with the reason', () =>
  withHome({}, async (t) => {
    const { startWorker } = await import('../../dist/worker/index.js');
    const { writePendingSpec } = await import('../helpers/specs.js');
    // The pool's folder is a file: no FIFO can be had.
    writeFileSync(join(t.home, 'coordination', '.log-pipes'), 'not a folder\n');
    writePendingSpec(t.home, 'w-unbounded');
    const started = await startWorker(t.ctx(), 'w-unbounded');
    t.tracker.group(started.pid);
    const warning = eventsOf(t.home, 'w-unbounded', 'daemon_warning');
    assert.equal(warning.length, 1, JSON.stringify(warning));
    assert.equal(warning[0]?.data.warning, 'log_unbounded');
    assert.match(String(warning[0]?.data.message), /no log pipe for this run \(.*\.log-pipes.*\): the worker writes to its log directly/);
    assert.equal(eventsOf(t.home, 'w-unbounded', 'worker_started').length, 1);
  }));
