// Many processes at once against one home: the queue keeps every task, the log keeps every line whole,
// a killed lock holder does not block the next writer for long, and a reader never sees half a file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { activityEventSchema } from '../../dist/contract/activity.js';
import { taskQueueSchema } from '../../dist/contract/task-queue.js';
import { withLock } from '../../dist/store/lock.js';
import { readJsonl, ROOT, run, waitFor } from '../helpers/home.js';
import { pidOf } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';

const dist = (path) => pathToFileURL(join(ROOT, 'dist', path)).href;

const TYPES = { implementation: { command: ['node', 'w.js'] } };

/** Starts `node script args...` with this home; resolves {code, signal, stdout, stderr} when it exits. */
function startNode({ home, tracker }, script, args = [], { stdin = false } = {}) {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, COMMIT_RELAY_HOME: home }, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  tracker.pid(child.pid);
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d) => (out.stdout += d));
  child.stderr?.on('data', (d) => (out.stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, ...out })));
  return { child, out, exited };
}

/** Files under coordination/ (not in subfolders) that are not contract files: write-file-atomic temp files left behind. */
const strayFiles = (paths) => readdirSync(paths.coordination).filter((n) => !['task-queue.json', 'pm-activity.jsonl', 'health-alerts.json', 'pm-state.json'].includes(n) && !n.startsWith('.') && !['config', 'worker-specs', 'worker-checkins', 'worker-exits'].includes(n));

test('30 create-task processes at once leave 30 distinct tasks in a valid task-queue.json', () => withHome({ types: TYPES }, async ({ home, paths }) => {
  // A generous per-process ceiling: 30 node starts at once on a small, shared machine can be slow.
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => run(home, ['create-task', '--description', `task number ${i}`, '--metadata', JSON.stringify({ n: i })], { timeoutMs: 120_000 })));
  for (const r of results) assert.equal(r.code, 0, `exit ${r.code}, signal ${r.signal}, stderr: ${r.stderr}`);
  const ids = results.map((r) => r.stdout.trim());
  assert.equal(new Set(ids).size, 30, 'distinct ids');
  const queue = taskQueueSchema.parse(JSON.parse(readFileSync(paths.taskQueue, 'utf8')));
  assert.equal(queue.tasks.length, 30);
  assert.deepEqual(queue.tasks.map((t) => t.task_id).sort(), [...ids].sort());
  assert.deepEqual(queue.tasks.map((t) => /** @type {number} */ (t.metadata.n)).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i));
  const created = readJsonl(paths.activity).filter((e) => e.event === 'task_created');
  assert.equal(created.length, 30);
  assert.deepEqual(strayFiles(paths), []);
  assert.deepEqual(readdirSync(paths.locks), [], 'no lock left behind');
}));

test('20 processes appending 10 events each through emit-event leave 200 whole lines that each parse', () => withHome({ types: TYPES }, async ({ home, paths, tracker }) => {
  // Each process runs the emit-event command 10 times in-process (a node start per event would be 200 starts);
  // all wait at a barrier (a line on stdin) so that their appends overlap, and lines are up to ~16 KB so
  // that a torn or interleaved write would show.
  const script = join(home, 'appender.mjs');
  writeFileSync(
    script,
    `import { once } from 'node:events';
import { runCli } from ${JSON.stringify(dist('cli/run.js'))};
import { emitEventCommand } from ${JSON.stringify(dist('cli/commands/emit-event.js'))};
const n = Number(process.argv[2]);
process.stdout.write('ready\\n');
await once(process.stdin, 'data');
for (let seq = 0; seq < 10; seq++) {
  const pad = 'x'.repeat(((n * 10 + seq) * 1543) % 16000);
  const code = await runCli(['emit-event', '--type', 'load_test', '--worker-id', 'w-' + n, '--data', JSON.stringify({ seq, pad })], [emitEventCommand]);
  if (code !== 0) process.exit(code);
}
process.exit(0);
`,
  );
  const procs = Array.from({ length: 20 }, (_, n) => startNode({ home, tracker }, script, [String(n)], { stdin: true }));
  await waitFor(() => procs.every((p) => p.out.stdout.includes('ready')), { timeoutMs: 60_000, intervalMs: 50, what: '20 appenders ready' });
  for (const p of procs) p.child.stdin?.write('go\n');
  for (const r of await Promise.all(procs.map((p) => p.exited))) assert.equal(r.code, 0, r.stderr);

  const text = readFileSync(paths.activity, 'utf8');
  assert.ok(text.endsWith('\n'));
  const lines = text.slice(0, -1).split('\n');
  assert.equal(lines.length, 200);
  const seen = new Set();
  for (const line of lines) {
    const event = activityEventSchema.parse(JSON.parse(line));
    const data = /** @type {{ pad: string, seq: number }} */ (event.data);
    assert.equal(event.event, 'load_test');
    assert.equal(data.pad.length, ((Number(event.worker_id?.slice(2)) * 10 + data.seq) * 1543) % 16000);
    seen.add(`${event.worker_id}/${data.seq}`);
  }
  assert.equal(seen.size, 200, 'every (worker, seq) exactly once');
}));

test('a lock holder killed with SIGKILL does not block the next writer for more than a few seconds', () => withHome({ types: TYPES }, async ({ home, paths, tracker }) => {
  const script = join(home, 'holder.mjs');
  writeFileSync(
    script,
    `import { withLock } from ${JSON.stringify(dist('store/lock.js'))};
import { homePaths } from ${JSON.stringify(dist('store/home.js'))};
setInterval(() => {}, 1000);
await withLock(homePaths(process.argv[2]), 'task-queue', () => {
  process.stdout.write('locked\\n');
  return new Promise(() => {});
});
`,
  );
  const holder = startNode({ home, tracker }, script, [home]);
  await waitFor(() => holder.out.stdout.includes('locked'), { timeoutMs: 30_000, what: 'the holder to take the lock' });

  // The lock is real: while the holder lives, another taker gives up with LOCK_HELD.
  await assert.rejects(withLock(paths, 'task-queue', () => 'taken', { waitMs: 200 }), { code: 'LOCK_HELD' });

  process.kill(pidOf(holder.child), 'SIGKILL');
  assert.equal((await holder.exited).signal, 'SIGKILL');
  assert.ok(existsSync(join(paths.locks, 'task-queue.lock')), 'the dead holder left its lock behind');

  const started = Date.now();
  const result = await run(home, ['create-task', '--description', 'after the crash']);
  const elapsed = Date.now() - started;
  assert.equal(result.code, 0, result.stderr);
  assert.ok(elapsed < 10_000, `the next writer waited ${elapsed} ms`);
  assert.equal(JSON.parse(readFileSync(paths.taskQueue, 'utf8')).tasks[0].task_id, result.stdout.trim());
}));

test('a reader never sees a half-written file while another process rewrites it', () => withHome({ types: TYPES }, async ({ home, paths, tracker }) => {
  const script = join(home, 'rewriter.mjs');
  writeFileSync(
    script,
    `import { writeJsonAtomic } from ${JSON.stringify(dist('store/atomic.js'))};
const [file] = process.argv.slice(2);
for (let round = 0; round < 40; round++) {
  const alerts = Array.from({ length: 2000 }, (_, i) => ({ id: 'a-' + round + '-' + i, message: 'm'.repeat(100) }));
  await writeJsonAtomic(file, { round, alerts }, { fsync: false });
}
`,
  );
  writeFileSync(paths.alerts, JSON.stringify({ round: -1, alerts: [] }));
  const writer = startNode({ home, tracker }, script, [paths.alerts]);
  let done = false;
  writer.exited.then(() => (done = true));
  let reads = 0;
  const rounds = new Set();
  while (!done) {
    const value = JSON.parse(readFileSync(paths.alerts, 'utf8'));
    assert.ok(value.round === -1 || value.alerts.length === 2000, `round ${value.round} is whole`);
    rounds.add(value.round);
    reads += 1;
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.equal((await writer.exited).code, 0);
  assert.equal(JSON.parse(readFileSync(paths.alerts, 'utf8')).round, 39);
  assert.ok(reads > 10 && rounds.size > 2, `the reader overlapped the writer (${reads} reads, ${rounds.size} rounds seen)`);
  assert.deepEqual(strayFiles(paths), []);
}));
