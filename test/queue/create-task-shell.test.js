// scripts/create-task.sh decides the common case in the shell and hands the rest to the Node entry: for every
// input, good or bad, it must do exactly what dist/bin/create-task.js does (exit code, stderr, stdout, the
// task-queue.json bytes and the event written), ids and times aside.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, SCRIPTS } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';

const NODE_ENTRY = join(ROOT, 'dist', 'bin', 'create-task.js');
const TYPES = { implementation: { command: ['sleep', '60'] }, review: { command: ['sleep', '60'] } };

/** A queue as our writers write it, with what the shell must read exactly: nesting, escapes, UTF-8, extra keys, a leap day. */
const RICH_QUEUE = {
  tasks: [
    {
      task_id: 'rich-1',
      description: 'a "b" \\ c\n\td',
      priority: 'critical',
      worker_type: 'review',
      status: 'assigned',
      created_at: '2024-02-29T23:59:59.999Z',
      metadata: { nested: { deep: [1, -2, { x: null }], s: 'é✓ "q"' }, arr: [], obj: {}, t: true, '': 'empty key' },
      worker_id: 'w-1',
      assigned_at: '2024-03-01T00:00:00.000Z',
      completed_at: null,
      error: null,
      extra: 'kept',
    },
    { task_id: 'rich-2', description: 'done', priority: 'low', worker_type: 'implementation', status: 'failed', created_at: '2026-12-31T00:00:00.000Z', metadata: {}, error: 'it broke' },
  ],
};
const text = (/** @type {unknown} */ queue) => `${JSON.stringify(queue, null, 2)}\n`;

/** Decided by the shell: the Node entry runs the same in its twin home, and both must agree. @type {string[][]} */
const QUEUING_CASES = [
  ['--description', 'plain'],
  ['--description=a "quoted" \\ back\\\\slash', '--priority=high', '--worker-type', 'review'],
  ['--description', '  spaced out  ', '--json'],
  ['--description', 'déjà vu ✓', '--task-id', 'my-task.1'],
  ['--description', 'again', '--task-id=my-task.1'],
  ['--json=false', '--description', 'x', '--priority', 'low', '--worker-type=implementation'],
  ['--description', 'given', '--task-id', 'given-2', '--json=true'],
];

/** The same, refused. @type {string[][]} */
const REFUSED_CASES = [
  [],
  ['--description'],
  ['--description', '--json'],
  ['--description', 'a', '--description=b'],
  ['--description', '   '],
  ['--description', 'x', '--priority', 'Urgent "now"'],
  ['--description', 'x', '--task-id', '../evil'],
  ['--description', 'x', '--task-id', 'a'.repeat(130)],
  ['--description', 'x', '--task-id', `${'b'.repeat(70)}/`],
  ['--description', 'x', '--task-id', 'a..b'],
  ['--description', 'x', '--urgent=yes'],
  ['stray', '--description', 'x'],
  ['--json', '--description', 'x', '--json'],
  ['--json=maybe'],
];

/**
 * Handed to Node (the fake node on PATH says it was called): arguments, environments and homes the shell must
 * not decide. `queue` replaces task-queue.json's text for the case; `before` changes the home.
 * @type {Array<{ args: string[], env?: Record<string, string>, queue?: string, before?: (coordination: string) => void, lockHeld?: boolean }>}
 */
const NODE_CASES = [
  { args: ['--help'] },
  { args: ['--description', 'x', '--version'] },
  { args: ['--description', 'x', '--metadata', '{}'] },
  { args: ['--from-file', 'tasks.jsonl'] },
  { args: ['--description', 'x', '--worker-type', 'nope'] },
  { args: ['--description', 'tab\there'] },
  { args: ['--description', '\u00a0nbsp'] },
  { args: ['--description', 'ideographic space\u3000'] },
  { args: ['--description', 'x', '--task-id', 'rich-1', '--json'] },
  { args: ['--description', 'x'], env: { COMMIT_RELAY_REDIS_URL: 'redis://127.0.0.1:1' } },
  { args: ['--description', 'x'], queue: JSON.stringify(RICH_QUEUE) },
  { args: ['--description', 'x'], queue: text(RICH_QUEUE).replace('"w-1"', '"w-\\u0031"') },
  { args: ['--description', 'x'], queue: text(RICH_QUEUE).replace('-2,', '-2.5,') },
  { args: ['--description', 'x'], queue: text(RICH_QUEUE).replace('2024-02-29', '2026-02-29') },
  { args: ['--description', 'x'], queue: text(RICH_QUEUE).replace('"extra": "kept"', '"extra": "kept",\n      "extra": "twice"') },
  { args: ['--description', 'x'], queue: text(RICH_QUEUE).replace('"t": true', '"7": true') },
  { args: ['--description', 'x'], queue: text({ tasks: [{ ...RICH_QUEUE.tasks[1], metadata: undefined }] }) },
  { args: ['--description', 'x'], queue: `${text(RICH_QUEUE)}\n` },
  { args: ['--description', 'x'], queue: text({ tasks: Array.from({ length: 600 }, (_, i) => ({ ...RICH_QUEUE.tasks[1], task_id: `big-${i}` })) }) },
  { args: ['--description', 'x'.repeat(33_000)] },
  { args: ['--description', 'x'], before: (c) => mkdirSync(join(c, '.locks', 'task-queue.lock')), lockHeld: true },
  { args: ['--description', 'x'], before: (c) => writeFileSync(join(c, 'config', 'worker-types.json'), `${JSON.stringify({ worker_types: TYPES })}\n`) },
];

/** @returns {Promise<{ code: number, stdout: string, stderr: string }>} */
function runOne(/** @type {string} */ file, /** @type {string[]} */ argv, /** @type {Record<string, string>} */ env) {
  return new Promise((resolve) => {
    execFile(file, argv, { env: { ...process.env, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Text with the home, generated ids and times made the same in both homes. */
const normalise = (/** @type {string} */ s, /** @type {string} */ home) =>
  s
    .replaceAll(home, '<home>')
    .replace(/task-\d{8}-\d{6}-[0-9a-f]{6}/g, '<id>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>');

test('create-task.sh decides the common case as the Node entry does (exit code, output, the queue and event written) and hands it the rest', () =>
  withHome({ types: TYPES }, async (t) => {
    const homes = { sh: t.home, node: t.makeHome(TYPES) };
    const coordination = (/** @type {string} */ home) => join(home, 'coordination');
    // The same queue in both; the Node entry's first run (the layout made, the shell's cache written).
    for (const home of Object.values(homes)) {
      mkdirSync(coordination(home), { recursive: true });
      writeFileSync(join(coordination(home), 'task-queue.json'), text(RICH_QUEUE));
      const first = await runOne(process.execPath, [NODE_ENTRY, '--description', 'first', '--task-id', 'first-1'], { COMMIT_RELAY_HOME: home });
      assert.equal(first.code, 0, first.stderr);
    }
    assert.ok(existsSync(join(coordination(homes.sh), '.create-task-cache')), 'the Node entry wrote the cache');
    // A `node` that only says it was called: a case the shell hands over ends there (exit 99).
    const fakeBin = join(t.home, 'fake-bin');
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\necho "node called" >&2\nexit 99\n', { mode: 0o755 });
    const shEnv = { COMMIT_RELAY_HOME: homes.sh, PATH: `${fakeBin}:${process.env.PATH}` };
    const files = (/** @type {string} */ home) => ['task-queue.json', 'pm-activity.jsonl'].map((f) => normalise(readFileSync(join(coordination(home), f), 'utf8'), home));
    const started = Date.now();
    const compare = async (/** @type {string[]} */ args) => {
      const label = JSON.stringify(args);
      const [sh, node] = await Promise.all([
        runOne(join(SCRIPTS, 'create-task.sh'), args, shEnv),
        runOne(process.execPath, [NODE_ENTRY, ...args], { COMMIT_RELAY_HOME: homes.node }),
      ]);
      assert.notEqual(sh.code, 99, `${label}: decided by the shell`);
      const seen = (/** @type {{ code: number, stdout: string, stderr: string }} */ r, /** @type {string} */ home) => ({
        code: r.code,
        stdout: normalise(r.stdout, home),
        stderr: r.stderr.replaceAll(home, '<home>'),
        files: files(home),
      });
      assert.deepEqual(seen(sh, homes.sh), seen(node, homes.node), label);
      if (sh.code === 0 && !sh.stdout.startsWith('{')) assert.match(sh.stdout, /^(task-\d{8}-\d{6}-[0-9a-f]{6}|my-task\.1|given-2)\n$/, label);
    };
    // Those that queue one after the other (the queues grow alike); the refused ones, which change nothing, four at a time.
    for (const args of QUEUING_CASES) await compare(args);
    for (let i = 0; i < REFUSED_CASES.length; i += 4) await Promise.all(REFUSED_CASES.slice(i, i + 4).map(compare));
    // Times are now (the lock folder's mtime), and nothing of the shell's is left behind.
    const queued = JSON.parse(readFileSync(join(coordination(homes.sh), 'task-queue.json'), 'utf8')).tasks;
    for (const task of queued.slice(3)) assert.ok(Date.parse(task.created_at) >= started - 1000 && Date.parse(task.created_at) <= Date.now(), task.created_at);
    assert.deepEqual(readdirSync(join(coordination(homes.sh), '.locks')), []);
    assert.deepEqual(readdirSync(coordination(homes.sh)).filter((f) => f.includes('.tmp')), []);

    const queueFile = join(coordination(homes.sh), 'task-queue.json');
    const kept = readFileSync(queueFile, 'utf8');
    for (const c of NODE_CASES) {
      const label = JSON.stringify(c);
      if (c.queue !== undefined) writeFileSync(queueFile, c.queue);
      c.before?.(coordination(homes.sh));
      const sh = await runOne(join(SCRIPTS, 'create-task.sh'), c.args, { ...shEnv, ...c.env });
      assert.deepEqual([sh.code, sh.stderr, sh.stdout], [99, 'node called\n', ''], `${label}: handed to Node`);
      // The queue as it was, and no lock left but the one the case took itself.
      assert.equal(readFileSync(queueFile, 'utf8'), c.queue ?? kept, label);
      const lock = join(coordination(homes.sh), '.locks', 'task-queue.lock');
      assert.equal(existsSync(lock), c.lockHeld === true, label);
      rmSync(lock, { recursive: true, force: true });
      writeFileSync(queueFile, kept);
    }
  }));

test('create-task.sh names the OS reason when the event cannot be appended (the task is queued, as with the Node entry), in one line, exit 1', () =>
  withHome({ types: TYPES }, async (t) => {
    const coordination = join(t.home, 'coordination');
    const first = await runOne(process.execPath, [NODE_ENTRY, '--description', 'first'], { COMMIT_RELAY_HOME: t.home });
    assert.equal(first.code, 0, first.stderr);
    const fakeBin = join(t.home, 'fake-bin');
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\necho "node called" >&2\nexit 99\n', { mode: 0o755 });
    // The log cannot be opened for appending (a folder in its place: refused even to root).
    const log = join(coordination, 'pm-activity.jsonl');
    rmSync(log);
    mkdirSync(log);
    const sh = await runOne(join(SCRIPTS, 'create-task.sh'), ['--description', 'second'], { COMMIT_RELAY_HOME: t.home, PATH: `${fakeBin}:${process.env.PATH}` });
    assert.deepEqual([sh.code, sh.stdout, sh.stderr], [1, '', `commit-relay: cannot append to ${log}: Is a directory\n`]);
    const tasks = JSON.parse(readFileSync(join(coordination, 'task-queue.json'), 'utf8')).tasks;
    assert.deepEqual(tasks.map((/** @type {{ description: string }} */ task) => task.description), ['first', 'second']);
  }));
