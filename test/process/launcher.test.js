// The daemon's launcher (scripts/lib/launcher.pl through src/process/launcher.ts): what it starts, and how.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Launcher } from '../../dist/process/launcher.js';
import { waitFor } from '../helpers/home.js';
import { isAlive, procStat, ProcessTracker } from '../helpers/processes.js';

/** @param {import('node:events').EventEmitter} child @returns {Promise<{ code: number | null, signal: string | null }>} */
const ended = (child) => new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

/** The session id of a process (field 6 of /proc/PID/stat). @param {number} pid */
const sessionOf = (pid) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[3]);

test('the launcher starts exactly the argv, folder and environment given, in a session of its own, and reports its end', async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'launcher-')));
  const tracker = new ProcessTracker();
  const launcher = new Launcher();
  t.after(() => {
    launcher.close();
    tracker.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  // Output into a file this process holds open; an argument with spaces and quotes reaches the program as one.
  const out = join(dir, 'out.txt');
  const fd = openSync(out, 'a');
  const child = await launcher.launch({ argv: ['/bin/sh', '-c', 'printf "%s|%s|%s|%s\\n" "$1" "$FOO" "$(pwd)" "${HOME-unset}"; exit 3', 'sh', 'a "b" c'], cwd: dir, env: { FOO: 'bar baz', PATH: '/usr/bin:/bin' }, output: fd });
  closeSync(fd);
  const end = await ended(child);
  assert.deepEqual(end, { code: 3, signal: null });
  assert.equal(readFileSync(out, 'utf8'), `a "b" c|bar baz|${dir}|unset\n`);

  // The log pipe: stdout and stderr are its write end, fd 3 its read end; and the child leads a new session.
  const piped = join(dir, 'piped.txt');
  const reader = await launcher.launch({ argv: ['/bin/sh', '-c', 'echo to-stdout; echo to-stderr >&2; exec 1>&- 2>&-; head -n 2 <&3 > "$0"; sleep 30', piped], cwd: dir, env: {}, output: 'pipe' });
  tracker.group(reader.pid);
  assert.equal(sessionOf(reader.pid), reader.pid, 'a session (and group) of its own');
  assert.equal(procStat(reader.pid)?.ppid, launcher.pid, 'the launcher is its parent');
  await waitFor(() => readFileSync(piped, { encoding: 'utf8', flag: 'a+' }) === 'to-stdout\nto-stderr\n', { what: 'the piped output read back from fd 3' });

  // A child that ends at once: its end comes after its start, whatever the order the launcher saw them.
  const quick = await launcher.launch({ argv: ['/bin/true'], cwd: dir, env: {}, output: null });
  assert.deepEqual(await ended(quick), { code: 0, signal: null });
  const killed = await launcher.launch({ argv: ['/bin/sleep', '30'], cwd: dir, env: {}, output: null });
  process.kill(killed.pid, 'SIGKILL');
  assert.deepEqual(await ended(killed), { code: null, signal: 'SIGKILL' });

  // What cannot start says why, and nothing runs.
  await assert.rejects(launcher.launch({ argv: ['/bin/true'], cwd: join(dir, 'nowhere'), env: {}, output: null }), (/** @type {any} */ e) => e.code === 'SPAWN_FAILED' && /cannot change to .*nowhere/.test(e.message));
  await assert.rejects(launcher.launch({ argv: [join(dir, 'no-such-program')], cwd: dir, env: {}, output: null }), /cannot run .*no-such-program/);

  // The launcher killed: the next launch starts another; what it started runs on.
  const first = launcher.pid;
  assert.ok(first !== undefined);
  process.kill(first, 'SIGKILL');
  await waitFor(() => launcher.pid === undefined, { what: 'the launcher seen gone' });
  const again = await launcher.launch({ argv: ['/bin/sleep', '30'], cwd: dir, env: {}, output: null });
  tracker.group(again.pid);
  assert.notEqual(launcher.pid, first);
  assert.ok(isAlive(reader.pid), 'its earlier child lives on');
  // Closed (the daemon stops): the launcher exits, its children run on.
  const last = launcher.pid;
  launcher.close();
  await waitFor(() => last === undefined || !isAlive(last), { what: 'the launcher to exit' });
  assert.ok(isAlive(again.pid), 'a worker outlives the launcher');
});

test("a start and its end in one read of the launcher's answers: the exit reaches whoever awaited the launch", async () => {
  // No perl here: the answers are fed to the launcher's reader as one chunk, as a child that ended at once can give them.
  const launcher = /** @type {any} */ (new Launcher());
  const started = new Promise((resolve, reject) => launcher.pending.set(1, { resolve, reject }));
  launcher.read(`S 1 4242\nX 4242 ${3 << 8}\n`);
  const child = /** @type {import('node:events').EventEmitter} */ (await started);
  assert.deepEqual(await ended(child), { code: 3, signal: null });
  // And in the other order (the end read before the start): the same.
  const second = new Promise((resolve, reject) => launcher.pending.set(2, { resolve, reject }));
  launcher.read(`X 4343 9\nS 2 4343\n`);
  assert.deepEqual(await ended(/** @type {import('node:events').EventEmitter} */ (await second)), { code: null, signal: 'SIGKILL' });
});
