// validate: lists every problem of a home with its path and exits non-zero; exits 0 on a good home; changes nothing.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { makeSeededHome } from './support.js';
import { defined, removeHome, run } from '../helpers/home.js';
import { snapshotTree } from '../helpers/snapshots.js';

const T = '2025-11-21T10:00:00.000Z';
const json = (value) => `${JSON.stringify(value, null, 2)}\n`;
const spec = (id, over = {}) => ({ worker_id: id, worker_type: 'implementation', task_id: null, status: 'pending', created_at: T, task: { description: 'd' }, ...over });

/** A seeded home with one valid file of every kind. */
async function makeGoodHome() {
  const { home, paths } = await makeSeededHome();
  writeFileSync(paths.specFile('active', 'w-ok'), json(spec('w-ok', { owner: 'kept' })));
  writeFileSync(paths.specFile('completed', 'w-done'), json(spec('w-done', { status: 'completed' })));
  writeFileSync(paths.checkinFile('w-ok'), json({ worker_id: 'w-ok', timestamp: T, status: 'in_progress', progress_pct: 10 }));
  writeFileSync(paths.pmState, json({ pm_daemon: { pid: 1, started_at: T, last_loop: T, loops_completed: 1 }, monitored_workers: {}, metrics: {}, configuration: {} }));
  writeFileSync(paths.alerts, json({ alerts: [] }));
  writeFileSync(paths.daemonConfig, json({ loop_interval_seconds: 2 }));
  return { home, paths };
}

describe('validate', { concurrency: 3 }, () => {
  test('a good home: exit 0, no problems', async () => {
    const { home } = await makeGoodHome();
    try {
      const before = snapshotTree(home);
      const result = await run(home, ['validate']);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /^\d+ file\(s\) checked, 0 problem\(s\)\n$/);
      assert.deepEqual(snapshotTree(home), before);
    } finally {
      removeHome(home);
    }
  });

  const breakHome = (paths) => {
    writeFileSync(paths.specFile('active', 'w-json'), '{"worker_id": "w-json",');
    writeFileSync(paths.specFile('active', 'w-name'), json(spec('w-other')));
    writeFileSync(paths.specFile('failed', 'w-status'), json(spec('w-status', { status: 'exploded' })));
    writeFileSync(paths.specFile('active', 'w-type'), json(spec('w-type', { worker_type: 'nope' })));
    writeFileSync(join(paths.specDir('active'), 'bad..name.json'), json(spec('x')));
    writeFileSync(paths.checkinFile('w-ok'), json({ worker_id: 'w-ok', timestamp: T, status: 'in_progress', progress_pct: 140 }));
    writeFileSync(paths.taskQueue, json({ tasks: [{ task_id: 't', description: 'd', priority: 'urgent', worker_type: 'implementation', status: 'queued', created_at: T }] }));
    writeFileSync(paths.pmState, 'not json');
    writeFileSync(paths.alerts, json({ alerts: [{ id: 'a' }] }));
    writeFileSync(paths.activity, `${readFileSync(paths.activity, 'utf8')}{"half": \n`);
    writeFileSync(paths.daemonConfig, json({ loop_interval: 3 }));
  };

  const expected = (paths) => [
    [paths.daemonConfig, /unknown key "loop_interval"/],
    [paths.specFile('active', 'w-json'), /not valid JSON/],
    [paths.specFile('active', 'w-name'), /worker_id "w-other" does not match the file name "w-name\.json"/],
    [paths.specFile('active', 'w-type'), /unknown worker_type "nope"/],
    [join(paths.specDir('active'), 'bad..name.json'), /invalid worker id "bad\.\.name": it contains "\.\."/],
    [paths.specFile('failed', 'w-status'), /status: Invalid option/],
    [paths.checkinFile('w-ok'), /progress_pct/],
    [paths.taskQueue, /tasks\.0\.priority/],
    [paths.pmState, /not valid JSON/],
    [paths.alerts, /alerts\.0\./],
    [paths.activity, /1 line\(s\) are not contract events \(first: line 2\)/],
  ];

  test('a broken home: every problem listed with its path, a non-zero exit, every file left as it was', async () => {
    const { home, paths } = await makeGoodHome();
    try {
      breakHome(paths);
      const before = snapshotTree(home);
      const result = await run(home, ['validate']);
      assert.notEqual(result.code, 0);
      const lines = result.stdout.trimEnd().split('\n');
      assert.match(defined(lines.at(-1), 'the last line'), /^\d+ file\(s\) checked, 11 problem\(s\)$/);
      for (const [file, problem] of expected(paths)) {
        const line = lines.find((l) => l.startsWith(`${file}: `));
        assert.ok(line, `a line for ${file} in:\n${result.stdout}`);
        assert.match(line, problem);
      }
      assert.deepEqual(snapshotTree(home), before);
    } finally {
      removeHome(home);
    }
  });

  test('--json gives the same problems as data', async () => {
    const { home, paths } = await makeGoodHome();
    try {
      breakHome(paths);
      const result = await run(home, ['validate', '--json']);
      assert.notEqual(result.code, 0);
      const report = JSON.parse(result.stdout);
      assert.equal(report.home, home);
      assert.equal(report.problems.length, 11);
      for (const [file, problem] of expected(paths)) {
        const found = report.problems.find((p) => p.file === file);
        assert.ok(found, file);
        assert.match(found.problem, problem);
      }
    } finally {
      removeHome(home);
    }
  });

  test('a home with only worker-types.json is valid', async () => {
    const { home } = await makeSeededHome();
    const bare = join(home, 'nested-home');
    try {
      mkdirSync(join(bare, 'coordination', 'config'), { recursive: true });
      writeFileSync(join(bare, 'coordination', 'config', 'worker-types.json'), json({ worker_types: { demo: { command: ['node', 'x.js'] } } }));
      const result = await run(bare, ['validate']);
      assert.equal(result.code, 0, result.stdout + result.stderr);
    } finally {
      removeHome(home);
    }
  });

  test('leftover temp files: one warning line each (which file, how old), the exit code unchanged, nothing removed', async () => {
    const { home, paths } = await makeGoodHome();
    try {
      const old = (file) => {
        writeFileSync(file, '{"half":');
        const then = new Date(Date.now() - 25 * 60_000);
        utimesSync(file, then, then);
        return file;
      };
      const temps = [
        [old(`${paths.taskQueue}.2718281828`), paths.taskQueue, /^leftover temp file of .*task-queue\.json, 25m old/],
        [old(`${paths.specFile('active', 'w-ok')}.31415`), paths.specFile('active', 'w-ok'), /^leftover temp file of .*w-ok\.json, 25m old/],
        [old(`${paths.pmState}.4242.7.tmp`), paths.pmState, /^leftover temp file/],
        [old(`${paths.checkinFile('w-ok')}.tmp-4242-1700000000000`), paths.checkinFile('w-ok'), /^leftover temp file/],
        [old(`${join(paths.exits, 'w-ok.json')}.tmp.4242`), join(paths.exits, 'w-ok.json'), /^leftover temp file/],
        [old(`${paths.workerTypes}.tmp`), paths.workerTypes, /^leftover temp file/],
      ];
      // A whole exit record left at its temp name (its daemon died as its shim ended) is a run's end: not to be removed.
      const whole = `${join(paths.exits, 'w-done.json')}.tmp.4343`;
      writeFileSync(whole, '{"worker_id":"w-done","run_id":"run-1","status":0}\n');
      temps.push([whole, join(paths.exits, 'w-done.json'), /^exit record of .*w-done\.json left at its temp name, \d+s old \(.*keep it\)$/]);
      // A fresh one (a write under way) is listed too, as such; files set aside on purpose, other names and links are not.
      const fresh = `${paths.alerts}.99`;
      writeFileSync(fresh, '{');
      writeFileSync(`${paths.alerts}.corrupt-2025-11-21T10-00-00-000Z`, '{');
      writeFileSync(join(paths.coordination, 'notes.json.123'), '{');
      writeFileSync(join(paths.specDir('active'), 'bad..name.json.123'), '{');
      symlinkSync('/etc/passwd', `${paths.specFile('failed', 'w-x')}.77`);
      const before = snapshotTree(home);
      const result = await run(home, ['validate']);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      const lines = result.stdout.trimEnd().split('\n');
      assert.match(defined(lines.at(-1), 'the last line'), /^\d+ file\(s\) checked, 0 problem\(s\), 8 warning\(s\)$/);
      for (const [file, of, what] of temps) {
        const line = defined(lines.find((l) => l.startsWith(`${file}: warning: `)), `a line for ${file} in:\n${result.stdout}`);
        assert.ok(line.includes(of), line);
        assert.match(line.slice(`${file}: warning: `.length), what);
      }
      assert.match(defined(lines.find((l) => l.startsWith(`${fresh}: warning: `)), 'the fresh one'), /temp file of .*health-alerts\.json, \d+s old \(a write under way/);
      assert.deepEqual(snapshotTree(home), before);
      const report = JSON.parse((await run(home, ['validate', '--json'])).stdout);
      assert.equal(report.problems.length, 0);
      assert.equal(report.warnings.length, 8);
    } finally {
      removeHome(home);
    }
  });
});
