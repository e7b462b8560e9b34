import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { CLI, fixtureCommand, run, waitFor } from '../helpers/home.js';
import { isLive, pidOf, pidsWithEnv } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { writePendingSpec } from '../helpers/specs.js';

// print-loop.sh prints "line N.1 of a worker that prints" every 0.05 s; a 400-byte cap rotates output.log every ~12 lines.
const TYPES = { printer: { command: fixtureCommand('print-loop.sh', '0.05', '0', '1'), stop_grace_seconds: 1, log_max_bytes: 400 } };

/** The sequence numbers of the printer's lines in text, in order. @param {string} text */
const numbers = (text) => [...text.matchAll(/line (\d+)\.1 of a worker that prints/g)].map((m) => Number(m[1]));

/** Each number one more than the one before: nothing lost or repeated. @param {number[]} seq */
const consecutive = (seq) => seq.every((n, i) => i === 0 || n === (seq[i - 1] ?? 0) + 1);

/** @param {string} file */
const inode = (file) => {
  try {
    return statSync(file).ino;
  } catch {
    return 0;
  }
};

/**
 * `logs ... -f` in the background, its output collected.
 * @param {import('../helpers/scope.js').Scope} t @param {string[]} args
 */
function follow(t, args) {
  const child = spawn(process.execPath, [CLI, 'logs', ...args, '-f'], { env: { ...process.env, COMMIT_RELAY_HOME: t.home }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.tracker.pid(pidOf(child));
  const out = { text: '', code: /** @type {number | null | undefined} */ (undefined) };
  child.stdout.on('data', (chunk) => (out.text += chunk));
  child.on('exit', (code) => (out.code = code));
  return { out, child };
}

test('logs: the last lines (output.log.1 too), -f across rotations, a finished worker, --all prefixed (new workers picked up), bad ids', () =>
  withHome({ types: TYPES }, async (t) => {
    const id = 'printer-one';
    const log = t.paths.workerLogFile(id);
    const started = await run(t.home, ['--spec', writePendingSpec(t.home, id, { workerType: 'printer' })], { script: 'start-worker.sh' });
    assert.equal(started.code, 0, started.stderr);
    t.tracker.group(Number(started.stdout.trim()));
    const single = follow(t, [id, '--lines', '2']);
    const all = follow(t, ['--all', '-n', '1']);
    await waitFor(() => inode(`${log}.1`) !== 0, { what: 'a first rotation' });

    // -f: every line, in order, across rotations (output.log renamed at least twice more while it follows).
    await waitFor(() => numbers(single.out.text).length > 0, { what: 'the follower to print' });
    const firstInode = inode(log);
    await waitFor(() => inode(log) !== firstInode && numbers(single.out.text).length > 36, { what: 'the follower to read across rotations', timeoutMs: 20_000 });
    const followed = numbers(single.out.text);
    assert.ok(consecutive(followed), `no line lost or repeated across rotations: ${followed.join(' ')}`);

    // The worker fails (its log stays readable) while a second one starts: logs --all -f picks the new one up,
    // each line prefixed with its id, padded.
    const short = 'p2';
    const [failed, second] = await Promise.all([
      run(t.home, [id, '--error', 'enough'], { script: 'fail-worker.sh' }),
      run(t.home, ['--spec', writePendingSpec(t.home, short, { workerType: 'printer' })], { script: 'start-worker.sh' }),
    ]);
    assert.equal(failed.code, 0, failed.stderr);
    t.tracker.group(Number(second.stdout.trim()));
    await waitFor(() => all.out.text.includes('p2          | line 2.1 of a worker'), { what: 'the new worker in logs --all -f' });
    assert.match(all.out.text, /^printer-one \| line \d+\.1 of a worker that prints$/m);
    for (const line of all.out.text.split('\n').filter(Boolean)) assert.match(line, /^(printer-one|p2 {9}) \| /);

    // Ctrl-C (SIGINT) and SIGTERM: the followers end cleanly.
    single.child.kill('SIGINT');
    all.child.kill('SIGTERM');
    await waitFor(() => single.out.code !== undefined && all.out.code !== undefined, { what: 'the followers to exit' });
    assert.deepEqual([single.out.code, all.out.code], [0, 0]);

    // The last lines, from output.log.1 as well when output.log holds fewer (once the log pipe has ended).
    await waitFor(() => pidsWithEnv('WORKER_ID', id).filter(isLive).length === 0, { what: 'no process of the failed run left' });
    const current = readFileSync(log, 'utf8').split('\n').slice(0, -1);
    const before = readFileSync(`${log}.1`, 'utf8').split('\n').slice(0, -1);
    const want = current.length + 5;
    const [once, finished, wider, badId, unknown, both, badLines] = await Promise.all([
      run(t.home, ['logs', '--all', '--lines', '1']),
      run(t.home, [id, '--lines', '1'], { script: 'logs.sh' }),
      run(t.home, ['logs', id, '-n', String(want)]),
      run(t.home, ['logs', '../x']),
      run(t.home, ['logs', 'nobody-here']),
      run(t.home, ['logs', id, '--all']),
      run(t.home, ['logs', id, '--lines', 'ten']),
    ]);
    assert.match(once.stdout, /^p2 \| line \d+\.1 of a worker that prints\n$/);
    assert.equal(finished.code, 0, finished.stderr);
    assert.equal(finished.stdout, `${current.at(-1)}\n`);
    assert.equal(wider.stdout, `${[...before, ...current].slice(-want).join('\n')}\n`);
    assert.deepEqual([badId.code, badId.stderr], [2, 'commit-relay: invalid worker id "../x": it contains a path separator\n']);
    assert.deepEqual([unknown.code, unknown.stderr], [3, 'commit-relay: no worker "nobody-here": no spec in worker-specs/ and no log folder\n']);
    assert.equal(both.code, 2);
    assert.deepEqual([badLines.code, badLines.stderr], [2, 'commit-relay: --lines must be a whole number >= 0, got "ten"\n']);
  }));
