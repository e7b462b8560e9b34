// Ids are validated everywhere: in every path function, every command, and the daemon.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { homePaths, openHome } from '../../dist/store/home.js';
import { isValidId } from '../../dist/contract/ids.js';
import { RelayError } from '../../dist/errors.js';
import { events, pmState } from '../helpers/daemon.js';
import { FIXTURES, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { diffSnapshots, snapshotTree } from '../helpers/snapshots.js';
import { pendingSpec, specPath, writeSpecFile } from '../helpers/specs.js';

const BAD = ['../x', '../../etc/passwd', 'a/b', '/abs', 'a\0b', '', '.', '..', 'a..b', '.hidden', '-x', 'x'.repeat(129), 'é', 'a b', 'a\nb'];

describe('path functions', () => {
  const paths = homePaths('/srv/relay-home');
  const fns = {
    specFile: (id) => paths.specFile('active', id),
    checkinFile: (id) => paths.checkinFile(id),
    exitFile: (id) => paths.exitFile(id),
    workerLogDir: (id) => paths.workerLogDir(id),
    archivedDir: (id) => paths.archivedDir(id),
  };

  for (const [name, fn] of Object.entries(fns)) {
    test(`${name}: a bad id is INVALID_ID before any path exists; any string gives a name directly in its folder or INVALID_ID`, () => {
      for (const id of BAD) assert.throws(() => fn(id), (/** @type {import('../../dist/errors.js').RelayError} */ e) => e instanceof RelayError && e.code === 'INVALID_ID', JSON.stringify(id));
      const folder = dirname(fn('probe'));
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 140 }), fc.constantFrom(...BAD), fc.stringMatching(/^[A-Za-z0-9._/-]{1,20}$/)), (id) => {
          let file;
          try {
            file = fn(id);
          } catch (error) {
            assert.ok(error instanceof RelayError && error.code === 'INVALID_ID');
            assert.equal(isValidId(id), false);
            return;
          }
          assert.equal(isValidId(id), true);
          assert.equal(dirname(file), folder, `${JSON.stringify(id)} stays in ${folder}`);
          assert.ok(basename(file).startsWith(id));
        }),
        { numRuns: Number(process.env.FUZZ_RUNS) || 300 },
      );
    });
  }
});

/** withHome, with decoys where "../x" from a folder of the home would land, and one failed spec. */
const withDecoys = (body) =>
  withHome({}, (scope) => {
    const { home } = scope;
    writeFileSync(join(home, 'coordination', 'worker-specs', 'x.json'), JSON.stringify(pendingSpec('x', 'fixture')));
    writeFileSync(join(home, 'coordination', 'x.json'), '{}');
    writeSpecFile(home, 'failed', { ...pendingSpec('ok', 'fixture'), status: 'failed', error: 'boom' });
    return body(scope);
  });

describe('commands refuse bad ids, in one line, changing nothing', () => {
  const commands = [
    (id) => ['stop-worker', id],
    (id) => ['restart-worker', id],
    (id) => ['fail-worker', id],
    (id) => ['recover-task', id],
    (id) => ['cleanup-zombie-workers', id],
    (id) => ['cleanup-zombie-workers', '--dry-run', id],
    (id) => ['emit-event', '--type', 'note', '--worker-id', id],
    (id) => ['emit-event', '--type', 'note', '--task-id', id],
    (id) => ['checkin', '--worker-id', id, '--progress', '5'],
  ];
  const ids = ['../x', '../../x', 'a/b', 'a..b', '.hidden', 'x'.repeat(129), ''];

  test('every id-taking command', () => withDecoys(async ({ home }) => {
    const before = snapshotTree(home);
    // Every id through one command, and every other command with one of them, in turn (each run is a node process).
    const cases = [...ids.map((id) => commands[0](id)), ...commands.slice(1).map((argsOf, i) => argsOf(ids[i % ids.length]))];
    // A few at a time: each is a node process.
    for (let i = 0; i < cases.length; i += 6) {
      const results = await Promise.all(cases.slice(i, i + 6).map(async (args) => ({ args, result: await run(home, args) })));
      for (const { args, result } of results) {
        const shown = JSON.stringify(args);
        assert.equal(result.code, 2, `${shown}: exit 2, got ${result.code}: ${result.stderr}`);
        assert.match(result.stderr, /invalid (worker|task) id/, shown);
        assert.equal(result.stderr.trim().split('\n').length, 1, shown);
        assert.equal(result.stdout, '', shown);
      }
    }
    assert.deepEqual(diffSnapshots(before, snapshotTree(home)), []);
  }));

  test('checkin.sh with a bad WORKER_ID or --worker-id', () => withDecoys(async ({ home }) => {
    const before = snapshotTree(home);
    for (const [args, env] of /** @type {Array<[string[], Record<string, string>]>} */ ([
      [['--progress', '5'], { WORKER_ID: '../x' }],
      [['--worker-id', '../../x'], { WORKER_ID: '' }],
      [['--worker-id', 'a..b'], { WORKER_ID: '' }],
    ])) {
      const result = await run(home, args, { script: 'checkin.sh', env });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /invalid worker id/);
    }
    assert.deepEqual(diffSnapshots(before, snapshotTree(home)), []);
  }));

  test('start-worker --spec outside active/ (a path, not an id) is refused', () => withDecoys(async ({ home }) => {
    const before = snapshotTree(home);
    for (const spec of [join(home, 'coordination', 'worker-specs', 'x.json'), join(home, 'coordination', 'worker-specs', 'active', '..', 'x.json'), join(home, 'coordination', 'x.json'), '../x.json']) {
      const result = await run(home, ['--spec', spec], { script: 'start-worker.sh' });
      assert.notEqual(result.code, 0, spec);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
    assert.deepEqual(diffSnapshots(before, snapshotTree(home)), []);
  }));
});

describe('the daemon', () => {
  test('specs naming a bad id, and a queue with path-like task ids, touch nothing outside their folders; the daemon runs on', () => withHome({ types: { quick: { command: ['sh', join(FIXTURES, 'exit-with.sh'), '0', '0.2'], stop_grace_seconds: 1 } } }, async ({ home, startDaemon }) => {
    openHome(home);
    const bad = ['../escape', 'a/b', '../../outside', 'a..b', '.hidden'];
    bad.forEach((id, i) => writeSpecFile(home, 'active', pendingSpec(id, 'quick'), `bad-${i}`));
    writeSpecFile(home, 'active', { ...pendingSpec('tasked', 'quick'), task_id: '../../task' });
    writeSpecFile(home, 'active', pendingSpec('fine', 'quick'));
    const now = new Date().toISOString();
    const task = (task_id, extra = {}) => ({ task_id, description: 'd', priority: 'high', worker_type: 'quick', status: 'queued', created_at: now, metadata: {}, ...extra });
    writeFileSync(join(home, 'coordination', 'task-queue.json'), JSON.stringify({ tasks: [task('../escape'), task('task-ok', { worker_type: '../../x' })] }));
    const outside = readdirSync(home).sort();

    const daemon = await startDaemon();
    await waitFor(() => existsSync(specPath(home, 'completed', 'fine')), { what: 'the good spec to run and complete' });
    const loops = pmState(home).pm_daemon.loops_completed;
    await waitFor(() => pmState(home).pm_daemon.loops_completed >= loops + 2, { what: 'two more passes' });

    const invalid = events(home).filter((e) => e.event === 'spec_invalid');
    for (let i = 0; i < bad.length; i += 1) assert.equal(invalid.filter((e) => e.worker_id === `bad-${i}`).length, 1, `bad-${i} (${bad[i]}) reported once`);
    assert.equal(invalid.filter((e) => e.worker_id === 'tasked').length, 1);
    assert.ok(events(home).some((e) => e.event === 'daemon_error' && /task-queue\.json/.test(e.data.error)), 'the bad queue is reported');
    assert.deepEqual(readdirSync(join(home, 'coordination', 'worker-specs', 'active')).sort(), [...bad.map((_, i) => `bad-${i}.json`), 'tasked.json'].sort());
    assert.deepEqual(readdirSync(join(home, 'coordination', 'worker-specs')).sort(), ['active', 'archived', 'completed', 'failed']);
    assert.deepEqual(readdirSync(home).sort(), outside, 'nothing new at the top of the home');
    assert.equal(existsSync(join(home, 'coordination', 'escape.json')), false);
    assert.equal(daemon.child.exitCode, null);
  }));

  test('a queue holding a task whose id has ".." is reported as invalid, left as it is, and the daemon carries on', () => withHome({ types: { quick: { command: ['sh', join(FIXTURES, 'exit-with.sh'), '0', '0.1'], stop_grace_seconds: 1 } } }, async ({ home, startDaemon }) => {
    openHome(home);
    const now = new Date().toISOString();
    const task = (task_id, priority) => ({ task_id, description: 'd', priority, worker_type: 'quick', status: 'queued', created_at: now, metadata: {} });
    const file = join(home, 'coordination', 'task-queue.json');
    const text = JSON.stringify({ tasks: [task('a..b', 'critical'), task('task-ok', 'low')] });
    writeFileSync(file, text);
    const daemon = await startDaemon();
    await waitFor(() => events(home).some((e) => e.event === 'daemon_error' && /task-queue\.json/.test(e.data.error) && /\.\./.test(e.data.error)), { what: 'the bad queue reported' });
    assert.equal(readFileSync(file, 'utf8'), text, 'the queue is left byte-identical');
    assert.equal(existsSync(specPath(home, 'active', 'worker-quick-a..b')), false);
    const refused = await run(home, ['create-task', '--description', 'x', '--worker-type', 'quick']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /task-queue\.json: tasks\.0\.task_id/);
    assert.equal(daemon.child.exitCode, null, 'the daemon keeps running');
  }));
});
