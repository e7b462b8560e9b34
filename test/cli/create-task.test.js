// create-task: prints the id alone (or the task with --json); every bad input is one line on stderr, a non-zero
// exit, and no change under the home.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { expectRefused, makeSeededHome, testUnusableHome } from './support.js';
import { readJson, readJsonl, removeHome, run, SCRIPTS } from '../helpers/home.js';

const TASK_ID = /^task-\d{8}-\d{6}-[0-9a-f]{6}$/;

describe('create-task refuses bad input with one line, a non-zero exit and no change', { concurrency: 4 }, () => {
  /** @type {Array<[string, string[], RegExp]>} */
  const cases = [
    ['missing --description', ['create-task'], /Missing required argument: description/],
    ['--description without a value', ['create-task', '--description'], /Not enough arguments following: description/],
    ['an empty description', ['create-task', '--description', '  '], /--description must not be empty/],
    ['--description given twice', ['create-task', '--description', 'a', '--description', 'b'], /--description was given more than once/],
    ['an unknown flag', ['create-task', '--description', 'x', '--urgent'], /Unknown argument: urgent/],
    ['an unknown priority', ['create-task', '--description', 'x', '--priority', 'urgent'], /unknown priority "urgent": use one of critical, high, medium, low/],
    ['bad JSON in --metadata', ['create-task', '--description', 'x', '--metadata', '{"retry_of": '], /--metadata is not valid JSON/],
    ['--metadata that is an array', ['create-task', '--description', 'x', '--metadata', '[1]'], /--metadata must be a JSON object, got an array/],
    ['an unknown worker type', ['create-task', '--description', 'x', '--worker-type', 'nope'], /unknown worker type "nope": .*worker-types\.json defines "implementation", "review"/],
    ['worker type ../x', ['create-task', '--description', 'x', '--worker-type', '../x'], /unknown worker type "\.\.\/x"/],
    ['worker type a/b', ['create-task', '--description', 'x', '--worker-type', 'a/b'], /unknown worker type "a\/b"/],
    ['an empty worker type', ['create-task', '--description', 'x', '--worker-type', ''], /unknown worker type ""/],
    ['a 200-character worker type', ['create-task', '--description', 'x', '--worker-type', 'w'.repeat(200)], /unknown worker type "w{200}"/],
  ];
  for (const [name, args, message] of cases) test(name, () => expectRefused(args, message));

  test('a task-queue.json that does not parse is named and left as it is', () =>
    expectRefused(['create-task', '--description', 'x'], /task-queue\.json: not valid JSON/, (paths) => writeFileSync(paths.taskQueue, '{"tasks": [')));

  test('a worker-types.json with an unknown key is named with the key', () =>
    expectRefused(['create-task', '--description', 'x'], /worker-types\.json: worker_types\.implementation: unknown key "retries"/, (paths) =>
      writeFileSync(paths.workerTypes, JSON.stringify({ worker_types: { implementation: { command: ['x'], retries: 1 } } })),
    ));
});

describe('create-task with an unusable home', { concurrency: 2 }, () => {
  testUnusableHome(['create-task', '--description', 'x']);
});

describe('create-task output', { concurrency: 2 }, () => {
  test('prints the id alone on stdout, queues the task and logs task_created', async () => {
    const { home, paths } = await makeSeededHome();
    try {
      const result = await run(home, ['create-task', '--description', 'Fix the flaky test']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      assert.match(result.stdout, /^task-\S+\n$/);
      const id = result.stdout.trim();
      assert.match(id, TASK_ID);
      const task = readJson(paths.taskQueue).tasks.find((t) => t.task_id === id);
      assert.equal(task.description, 'Fix the flaky test');
      assert.equal(task.priority, 'medium');
      assert.equal(task.worker_type, 'implementation');
      assert.equal(task.status, 'queued');
      const events = readJsonl(paths.activity).filter((e) => e.task_id === id);
      assert.deepEqual(events.map((e) => e.event), ['task_created']);
    } finally {
      removeHome(home);
    }
  });

  test('--json prints the whole task, as queued; the runbook recovery command works', async () => {
    const { home, paths } = await makeSeededHome();
    try {
      // Runbook section E: re-create a task from a failed worker.
      const result = await run(home, ['create-task', '--description', 'redo it', '--priority', 'high', '--worker-type', 'review', '--metadata', '{"retry_of": "task-1"}', '--json']);
      assert.equal(result.code, 0, result.stderr);
      const { queue, created, ...printed } = JSON.parse(result.stdout);
      assert.match(printed.task_id, TASK_ID);
      assert.deepEqual(readJson(paths.taskQueue).tasks.at(-1), printed);
      // Where it went, and that it is new.
      assert.deepEqual(queue, { backend: 'file', queue: paths.taskQueue });
      assert.equal(created, true);
      assert.equal(printed.priority, 'high');
      assert.equal(printed.worker_type, 'review');
      assert.deepEqual(printed.metadata, { retry_of: 'task-1' });
    } finally {
      removeHome(home);
    }
  });

  test('--task-id names the task; a repeated create with the same id is not a second task', async () => {
    const { home, paths } = await makeSeededHome();
    try {
      const first = await run(home, ['create-task', '--description', 'once', '--task-id', 'task-fixed-1', '--json']);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(JSON.parse(first.stdout).created, true);
      const again = await run(home, ['create-task', '--description', 'twice', '--task-id', 'task-fixed-1', '--json']);
      assert.equal(again.code, 0, again.stderr);
      const repeated = JSON.parse(again.stdout);
      assert.equal(repeated.created, false);
      assert.equal(repeated.description, 'once');
      assert.equal(readJson(paths.taskQueue).tasks.filter((/** @type {{task_id: string}} */ t) => t.task_id === 'task-fixed-1').length, 1);
      const bad = await run(home, ['create-task', '--description', 'x', '--task-id', '../evil']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /task id/);
      assert.equal(bad.stderr.trim().split('\n').length, 1);
    } finally {
      removeHome(home);
    }
  });

  test('scripts/create-task.sh works from another working directory and makes the layout in a home with only worker-types.json', async () => {
    const { home } = await makeSeededHome();
    const bare = mkdtempSync(join(tmpdir(), 'relay-test-'));
    try {
      const fresh = join(bare, 'coordination', 'config');
      // A home with nothing but its worker types.
      mkdirSync(fresh, { recursive: true });
      writeFileSync(join(fresh, 'worker-types.json'), readFileSync(join(home, 'coordination', 'config', 'worker-types.json')));
      const result = await new Promise((resolve) => {
        execFile(join(SCRIPTS, 'create-task.sh'), ['--description', 'from elsewhere'], { cwd: tmpdir(), env: { ...process.env, COMMIT_RELAY_HOME: bare } }, (error, stdout, stderr) =>
          resolve({ code: error ? error.code : 0, stdout, stderr }),
        );
      });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout.trim(), TASK_ID);
      assert.equal(readJson(join(bare, 'coordination', 'task-queue.json')).tasks[0].task_id, result.stdout.trim());
      for (const dir of ['worker-specs/active', 'worker-specs/completed', 'worker-specs/failed', 'worker-checkins']) assert.ok(existsSync(join(bare, 'coordination', dir)), dir);
    } finally {
      removeHome(home);
      rmSync(bare, { recursive: true, force: true });
    }
  });
});
