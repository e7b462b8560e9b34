// scripts/create-task.sh's lean entry (src/bin/create-task.ts) and --from-file: the same errors as the yargs
// command, all-or-nothing bulk queueing, and the zod-free quick checks that only ever vouch for what the
// schemas accept.
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { workerTypeSchema, workerTypesFileSchema } from '../../dist/contract/worker-types.js';
import { DEFERRED_KEYS, QUICK_CHECKS, quickWorkerTypeNames } from '../../dist/queue/worker-type-names.js';
import { passesChecks } from '../../dist/contract/quick-checks.js';
import { DEFERRED_SETTINGS_KEYS, QUICK_SETTINGS_CHECKS } from '../../dist/queue/quick-settings.js';
import { daemonConfigFileSchema } from '../../dist/contract/daemon-config.js';
import { withLock, withQuickLock } from '../../dist/store/lock.js';
import { enqueueTasks } from '../../dist/store/task-batch.js';
import { makeSeededHome, runRefused } from './support.js';
import { readJson, readJsonl, removeHome, run, waitFor } from '../helpers/home.js';

const SCRIPT = { script: 'create-task.sh' };

describe('create-task.sh refuses bad input exactly as the yargs command does', { concurrency: 4 }, () => {
  /** @type {Array<[string, string[], RegExp, ((paths: any) => void)?]>} */
  const cases = [
    ['an unknown flag', ['--description', 'x', '--urgent'], /Unknown argument: urgent/],
    ['missing --description', [], /Missing required argument: description/],
    ['--description without a value', ['--description'], /Not enough arguments following: description/],
    ['--description given twice', ['--description', 'a', '--description', 'b'], /--description was given more than once/],
    ['a bad priority', ['--description', 'x', '--priority', 'urgent'], /unknown priority "urgent": use one of critical, high, medium, low/],
    ['bad JSON in --metadata', ['--description', 'x', '--metadata', '{"a": '], /--metadata is not valid JSON/],
    ['--metadata that is an array', ['--description', 'x', '--metadata', '[1]'], /--metadata must be a JSON object, got an array/],
    ['an unknown worker type', ['--description', 'x', '--worker-type', 'nope'], /unknown worker type "nope": .*defines "implementation", "review"/],
    ['a bad task id', ['--description', 'x', '--task-id', '../evil'], /invalid task id "\.\.\/evil": it contains a path separator/],
    [
      'a worker-types.json with an unknown key',
      ['--description', 'x'],
      /worker-types\.json: worker_types\.implementation: unknown key "retries"/,
      (paths) => writeFileSync(paths.workerTypes, JSON.stringify({ worker_types: { implementation: { command: ['x'], retries: 1 } } })),
    ],
    ['a pm-daemon.json the schema refuses', ['--description', 'x'], /pm-daemon\.json: log_level/, (paths) => writeFileSync(paths.daemonConfig, JSON.stringify({ max_concurrent_workers: 2, log_level: 'loud' }))],
    ['a task-queue.json that does not parse', ['--description', 'x'], /task-queue\.json: not valid JSON/, (paths) => writeFileSync(paths.taskQueue, '{"tasks": [')],
    [
      'a queued task the schema refuses',
      ['--description', 'x'],
      /task-queue\.json: tasks\.0\.priority/,
      (paths) => writeFileSync(paths.taskQueue, JSON.stringify({ tasks: [{ ...readJson(paths.taskQueue).tasks[0], priority: 'urgent' }] })),
    ],
  ];
  for (const [name, args, message, prepare] of cases) {
    test(name, async () => {
      const lean = await runRefused(args, message, prepare, SCRIPT);
      const yargs = await runRefused(['create-task', ...args], message, prepare);
      assert.equal(lean.stderr.replace(/relay-test-[^/]+/g, 'HOME'), yargs.stderr.replace(/relay-test-[^/]+/g, 'HOME'));
      assert.equal(lean.code, yargs.code);
    });
  }

  test('--help and --version', async () => {
    const help = await run('/nonexistent', ['--help'], SCRIPT);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--from-file FILE/);
    const version = await run('/nonexistent', ['--version'], SCRIPT);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  });
});

/** @param {number} n @param {(i: number) => object} [line] */
const jsonLines = (n, line = (i) => ({ description: `task ${i}` })) => Array.from({ length: n }, (_, i) => JSON.stringify(line(i))).join('\n') + '\n';

describe('create-task --from-file', { concurrency: 2 }, () => {
  test('queues 1,000 tasks in order in one go, prints their ids, logs one task_created each; the same ids again queue nothing', async () => {
    const { home, paths } = await makeSeededHome();
    try {
      const file = join(home, 'tasks.jsonl');
      writeFileSync(file, jsonLines(1000, (i) => ({ description: `task ${i}`, task_id: `bulk-${i}`, ...(i % 2 ? { priority: 'high', worker_type: 'review', metadata: { n: i } } : {}) })));
      const started = Date.now();
      const result = await run(home, ['--from-file', file], SCRIPT);
      const ms = Date.now() - started;
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      const ids = Array.from({ length: 1000 }, (_, i) => `bulk-${i}`);
      assert.deepEqual(result.stdout.trim().split('\n'), ids);
      const queued = readJson(paths.taskQueue).tasks;
      assert.equal(queued.length, 1001);
      assert.deepEqual(queued.slice(1).map((/** @type {any} */ t) => t.task_id), ids);
      assert.deepEqual(queued[2], { ...queued[2], priority: 'high', worker_type: 'review', metadata: { n: 1 }, status: 'queued' });
      assert.equal(queued[1].worker_type, 'implementation');
      const created = readJsonl(paths.activity).filter((e) => e.event === 'task_created' && e.task_id);
      assert.deepEqual(created.map((e) => e.task_id), ids);
      assert.ok(ms < 10_000, `took ${ms} ms`);
      // The same file again (the yargs command, from stdin): every id is already queued, so nothing is written.
      const before = readJson(paths.taskQueue);
      const again = await run(home, ['create-task', '--from-file', '-', '--json'], { input: jsonLines(2, (i) => ({ description: 'other', task_id: `bulk-${i}` })) });
      assert.equal(again.code, 0, again.stderr);
      const printed = again.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(printed.map((t) => [t.task_id, t.created, t.description]), [['bulk-0', false, 'task 0'], ['bulk-1', false, 'task 1']]);
      assert.deepEqual(readJson(paths.taskQueue), before);
      assert.equal(readJsonl(paths.activity).filter((e) => e.event === 'task_created' && e.task_id).length, 1000);
    } finally {
      removeHome(home);
    }
  });

  test('an empty file queues nothing and changes nothing', async () => {
    const { home } = await makeSeededHome();
    try {
      const file = join(home, 'empty.jsonl');
      writeFileSync(file, '\n');
      const result = await run(home, ['--from-file', file], SCRIPT);
      assert.deepEqual([result.code, result.stdout, result.stderr], [0, '', '']);
    } finally {
      removeHome(home);
    }
  });

  /** @type {Array<[string, string, RegExp]>} */
  const bad = [
    ['a bad line in the middle', jsonLines(5) + '{"description": \n' + jsonLines(5), /stdin: line 6: not valid JSON/],
    ['a line without a description', jsonLines(3) + '{"priority": "high"}\n', /line 4: description is missing/],
    ['an unknown key', jsonLines(2) + '{"description": "x", "prio": "high"}\n', /line 3: unknown key "prio"/],
    ['a bad priority', jsonLines(7) + '{"description": "x", "priority": "urgent"}\n', /line 8: unknown priority "urgent"/],
    ['metadata that is not an object', '{"description": "x", "metadata": [1]}\n', /line 1: metadata must be a JSON object, got an array/],
    ['an unknown worker type', jsonLines(3) + '{"description": "x", "worker_type": "nope"}\n', /line 4: unknown worker type "nope"/],
    ['a task_id twice in the file', '{"description": "a", "task_id": "t-1"}\n\n{"description": "b", "task_id": "t-1"}\n', /line 3: task_id "t-1" is also on line 1/],
    ['a line that is not an object', '[1]\n', /line 1: expected a JSON object, got an array/],
  ];
  for (const [name, text, message] of bad) {
    test(`${name}: one line naming it, exit 2, queue and log byte for byte as they were`, async () => {
      const result = await runRefused(['--from-file', '-'], message, undefined, { ...SCRIPT, input: text });
      assert.equal(result.code, 2);
    });
  }

  test('--from-file with a task flag is refused', async () => {
    await runRefused(['--from-file', '-', '--priority', 'high'], /--from-file cannot be used with --priority/, undefined, SCRIPT);
  });
});

describe('the quick checks vouch only for what the schemas accept', () => {
  test('every key of a worker type is checked quickly or left to the schema', () => {
    assert.deepEqual([...Object.keys(QUICK_CHECKS), ...DEFERRED_KEYS].sort(), Object.keys(workerTypeSchema.shape).sort());
  });

  test('every key of pm-daemon.json is checked quickly or loads the full settings', () => {
    assert.deepEqual([...Object.keys(QUICK_SETTINGS_CHECKS), ...DEFERRED_SETTINGS_KEYS].sort(), Object.keys(daemonConfigFileSchema.shape).sort());
    for (const bad of [{ max_concurrent_workers: -1 }, { log_level: 'loud' }, { metrics: { port: 70000 } }, { metrics: { enabled: true, extra: 1 } }, { alert_hook: [] }, { demo: 'yes' }]) {
      assert.equal(passesChecks(bad, QUICK_SETTINGS_CHECKS), false, JSON.stringify(bad));
      assert.equal(daemonConfigFileSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
    const good = { $comment: 'c', max_concurrent_workers: 3, log_level: 'debug', metrics: { enabled: true, port: 9000, host: '::1' }, demo: false, alert_hook: ['x'] };
    assert.equal(passesChecks(good, QUICK_SETTINGS_CHECKS), true);
    assert.equal(daemonConfigFileSchema.safeParse(good).success, true);
  });

  test('worker-types.json files the schema refuses are never vouched for', () => {
    const type = { command: ['x'] };
    for (const bad of [
      { worker_types: { a: { ...type, max_restarts: -1 } } },
      { worker_types: { a: { ...type, max_restarts: 1.5 } } },
      { worker_types: { a: { command: [] } } },
      { worker_types: { a: { ...type, heartbeat: 'pulse' } } },
      { worker_types: { a: { ...type, env: { A: 1 } } } },
      { worker_types: { a: { ...type, rate_limit_exit_codes: [256] } } },
      { worker_types: { a: { ...type, log_max_bytes: 0 } } },
      { worker_types: { a: { ...type, rate_limit_patterns: ['(unclosed'] } } },
      { worker_types: { a: { ...type, rate_limit_patterns: [''] } } },
      { worker_types: { a: { ...type, rate_limit_patterns: 'x' } } },
      { worker_types: { '-a': type } },
      { worker_types: { a: type }, extra: 1 },
      { worker_types: { a: { ...type, workspace: { git_worktree: { repo: '.', base: 'main' } } } } },
    ]) {
      assert.equal(quickWorkerTypeNames(JSON.stringify(bad)), undefined, JSON.stringify(bad));
      if (!('workspace' in (bad.worker_types.a ?? {}))) assert.equal(workerTypesFileSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
    assert.deepEqual(quickWorkerTypeNames(JSON.stringify({ $comment: 'c', worker_types: { a: { ...type, max_restarts: 0, heartbeat: 'any' }, b: type } })), ['a', 'b']);
    const patterns = { worker_types: { a: { ...type, rate_limit_patterns: ['usage limit reached\\|(?<reset>\\d+)', '529'] } } };
    assert.deepEqual(quickWorkerTypeNames(JSON.stringify(patterns)), ['a'], 'rate_limit_patterns that compile are checked quickly');
    assert.equal(workerTypesFileSchema.safeParse(patterns).success, true);
  });
});

describe('withQuickLock and withLock exclude each other', () => {
  test('each waits for the other', async () => {
    const { home, paths } = await makeSeededHome();
    try {
      for (const [first, second] of [
        [withLock, withQuickLock],
        [withQuickLock, withLock],
      ]) {
        /** @type {string[]} */
        const order = [];
        /** @type {() => void} */
        let letGo = () => undefined;
        const held = first(paths, 'task-queue', async () => {
          order.push('first in');
          await new Promise((resolve) => (letGo = () => resolve(undefined)));
          order.push('first out');
        });
        while (order.length === 0) await new Promise((r) => setTimeout(r, 5));
        const waiting = second(paths, 'task-queue', () => void order.push('second in'));
        await new Promise((r) => setTimeout(r, 150));
        letGo();
        await Promise.all([held, waiting]);
        assert.deepEqual(order, ['first in', 'first out', 'second in']);
      }
    } finally {
      removeHome(home);
    }
  });
});

describe('withLock', () => {
  test('a held lock is waited for, then refused with LOCK_HELD naming it; one released by a throw is free again', async () => {
    const { home, paths } = await makeSeededHome();
    try {
      /** @type {() => void} */
      let letGo = () => undefined;
      let inside = false;
      const held = withLock(paths, 'task-queue', async () => {
        inside = true;
        await new Promise((resolve) => (letGo = () => resolve(undefined)));
      });
      while (!inside) await new Promise((r) => setTimeout(r, 5));
      const started = Date.now();
      await assert.rejects(withLock(paths, 'task-queue', () => undefined, { waitMs: 150 }), (error) => {
        assert.equal(/** @type {any} */ (error).code, 'LOCK_HELD');
        assert.match(/** @type {Error} */ (error).message, /^lock task-queue is held by another process \(waited 150 ms\)$/);
        return true;
      });
      assert.ok(Date.now() - started >= 150, 'it waited');
      letGo();
      await held;
      await assert.rejects(withLock(paths, 'task-queue', () => { throw new Error('inside'); }), /inside/);
      assert.equal(await withLock(paths, 'task-queue', () => 'free', { waitMs: 0 }), 'free');
      assert.equal(existsSync(join(paths.locks, 'task-queue.lock')), false, 'released');
      // A holder refreshes its lock's mtime (every second), so a lock held long is never taken as stale.
      const lockDir = join(paths.locks, 'task-queue.lock');
      await withLock(paths, 'task-queue', async () => {
        const first = statSync(lockDir).mtimeMs;
        await waitFor(() => statSync(lockDir).mtimeMs > first, { what: 'the mtime refreshed', timeoutMs: 5000, intervalMs: 50 });
      });
    } finally {
      removeHome(home);
    }
  });
});

describe('generated task ids', () => {
  test('a generated id already queued is replaced by a new one; a given one is not queued again', async () => {
    const { home, paths } = await makeSeededHome();
    try {
      const [seed] = readJson(paths.taskQueue).tasks;
      const clash = { ...seed, description: 'new' };
      const given = { ...seed, description: 'given' };
      const [renewed] = await enqueueTasks(paths, [clash], { generatedIds: new Set([seed.task_id]) });
      const [repeated] = await enqueueTasks(paths, [given]);
      assert.equal(renewed.created, true);
      assert.notEqual(renewed.task.task_id, seed.task_id);
      assert.match(renewed.task.task_id, /^task-\d{8}-\d{6}-[0-9a-f]{6}$/);
      assert.deepEqual([repeated.created, repeated.task.description], [false, 'seed']);
      assert.deepEqual(readJson(paths.taskQueue).tasks.map((/** @type {any} */ t) => t.description), ['seed', 'new']);
    } finally {
      removeHome(home);
    }
  });
});
