// The home: resolved from COMMIT_RELAY_HOME, its layout made on first use, an unusable home refused clearly.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { homePaths, openHome, projectRoot, resolveHome } from '../../dist/store/home.js';
import { readTaskQueue } from '../../dist/store/tasks.js';
import { makeHome, removeHome, ROOT } from '../helpers/home.js';

test('a home with only worker-types.json gets the whole layout on first use', () => {
  const home = makeHome();
  try {
    const paths = openHome(home);
    for (const dir of [paths.specDir('active'), paths.specDir('completed'), paths.specDir('failed'), paths.archivedDir(), paths.checkins, paths.exits, paths.systemLogs]) {
      assert.ok(existsSync(dir), dir);
    }
    assert.deepEqual(readTaskQueue(paths), { tasks: [] }, 'no task-queue.json reads as an empty queue');
    openHome(home); // idempotent
  } finally {
    removeHome(home);
  }
});

test('paths follow the contract layout', () => {
  const p = homePaths('/h');
  assert.equal(p.workerTypes, '/h/coordination/config/worker-types.json');
  assert.equal(p.daemonConfig, '/h/coordination/config/pm-daemon.json');
  assert.equal(p.specFile('active', 'w-1'), '/h/coordination/worker-specs/active/w-1.json');
  assert.equal(p.archivedDir('batch-1'), '/h/coordination/worker-specs/archived/batch-1');
  assert.equal(p.checkinFile('w-1'), '/h/coordination/worker-checkins/w-1.json');
  assert.equal(p.taskQueue, '/h/coordination/task-queue.json');
  assert.equal(p.pmState, '/h/coordination/pm-state.json');
  assert.equal(p.activity, '/h/coordination/pm-activity.jsonl');
  assert.equal(p.alerts, '/h/coordination/health-alerts.json');
  assert.equal(p.daemonLog, '/h/agents/logs/system/pm-daemon.log');
  assert.equal(p.workerLogDir('w-1'), '/h/agents/logs/w-1');
});

test('unset or empty COMMIT_RELAY_HOME means the project root', () => {
  assert.equal(projectRoot(), ROOT);
  assert.equal(resolveHome(undefined), ROOT);
  assert.equal(resolveHome(''), ROOT);
});

test('a home that is a file or missing is refused with HOME_UNUSABLE and nothing is created', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-test-'));
  try {
    const file = join(dir, 'file');
    writeFileSync(file, '');
    assert.throws(() => openHome(file), { code: 'HOME_UNUSABLE', message: `home ${file} is not a folder` });
    assert.throws(() => openHome(join(dir, 'missing')), { code: 'HOME_UNUSABLE', message: /is not usable: ENOENT/ });
    assert.equal(existsSync(join(dir, 'missing')), false);
    mkdirSync(join(dir, 'blocked'));
    writeFileSync(join(dir, 'blocked', 'coordination'), 'a file where a folder belongs');
    assert.throws(() => openHome(join(dir, 'blocked')), { code: 'HOME_UNUSABLE', message: /cannot create the layout/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
