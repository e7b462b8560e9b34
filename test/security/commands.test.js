// Commands come only from worker-types.json, and arguments never pass through a shell.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { loadWorkerTypes } from '../../dist/config/load.js';
import { RelayError } from '../../dist/errors.js';
import { spawnWorker } from '../../dist/process/spawn.js';
import { openHome } from '../../dist/store/home.js';
import { ARGV_TO_FILE, readArgv } from './support.js';
import { events, eventsOf } from '../helpers/daemon.js';
import { readJson, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { pendingSpec, specPath, writeSpecFile } from '../helpers/specs.js';

/** The type every test runs: its argv names the output file, a fixed word, then the placeholders. */
const recorder = (home) => ({
  echo: { command: ['sh', ARGV_TO_FILE, `${home}/argv-{worker_id}.out`, 'fixed-word', '{description}', 'task={task_id}', 'id={worker_id}'], stop_grace_seconds: 1 },
});

/**
 * Shell syntax of every kind. The destructive parts aim only at files inside the test's own home (a
 * sentinel folder and canary paths), so a broken build that ran them would fail the test, not harm the machine.
 */
const hostile = (home) =>
  [
    `$(touch ${home}/canary-1); rm -rf ${home}/sentinel`,
    `\`touch ${home}/canary-2\``,
    `; touch ${home}/canary-3 && rm -rf ${home}/sentinel || true`,
    `| tee ${home}/canary-4`,
    `> ${home}/canary-5`,
    `"'$HOME' \${IFS} * ? [a-z] ~ {worker_id} {home} \\ \n second line\ttab`,
  ].join(' ');

const canaries = (home) => [1, 2, 3, 4, 5].map((n) => join(home, `canary-${n}`));

function assertNothingRan(home) {
  for (const canary of canaries(home)) assert.equal(existsSync(canary), false, `${canary} was created: shell syntax ran`);
  assert.deepEqual(readdirSync(join(home, 'sentinel')), ['keep'], 'the sentinel folder is intact');
}

/** withHome, its home running the recorder type, with a sentinel folder that shell syntax would remove. */
const withRecorder = (body) =>
  withHome({}, (scope) => {
    writeFileSync(join(scope.home, 'coordination', 'config', 'worker-types.json'), JSON.stringify({ worker_types: recorder(scope.home) }));
    mkdirSync(join(scope.home, 'sentinel'));
    writeFileSync(join(scope.home, 'sentinel', 'keep'), 'keep');
    return body({ ...scope, paths: openHome(scope.home) });
  });

describe('commands come only from worker-types.json', () => {
  test('a task with a command field and a hostile description runs the type argv, the description as one literal element', () => withRecorder(async ({ home, startDaemon }) => {
    const description = hostile(home);
    const created = await run(home, ['create-task', '--description', description, '--worker-type', 'echo', '--metadata', JSON.stringify({ command: ['sh', '-c', `touch ${home}/canary-1`], shell: true })]);
    assert.equal(created.code, 0, created.stderr);
    const taskId = created.stdout.trim();
    // Fields planted straight into the queue, as a worker with write access to coordination/ could.
    const queueFile = join(home, 'coordination', 'task-queue.json');
    const queue = readJson(queueFile);
    Object.assign(queue.tasks[0], { command: ['sh', '-c', `touch ${home}/canary-2`], argv: ['touch', `${home}/canary-3`], program: '/bin/sh', worker_command: `touch ${home}/canary-4` });
    writeFileSync(queueFile, JSON.stringify(queue));

    await startDaemon();
    const workerId = `worker-echo-${taskId.slice(5)}`;
    const argv = await waitFor(() => readArgv(join(home, `argv-${workerId}.out`)), { what: 'the worker to record its argv' });
    assert.deepEqual(argv, ['fixed-word', description, `task=${taskId}`, `id=${workerId}`]);
    await waitFor(() => existsSync(specPath(home, 'completed', workerId)), { what: 'the worker to complete' });
    assertNothingRan(home);
    const started = eventsOf(home, workerId, 'worker_started');
    assert.equal(started.length, 1);
    assert.equal(started[0].data.program, 'sh');
  }));

  test('a spec carrying command, program or argv fields runs its type argv, from start-worker and from the daemon', () => withRecorder(async ({ home, tracker, startDaemon }) => {
    const planted = {
      command: ['sh', '-c', `touch ${home}/canary-1`],
      program: `/bin/sh`,
      argv: ['touch', `${home}/canary-2`],
      task: { description: hostile(home), command: ['touch', `${home}/canary-3`] },
      execution: { started_at: null, completed_at: null, pid: null, restart_count: 0, command: ['touch', `${home}/canary-4`] },
    };
    const byCommand = writeSpecFile(home, 'active', pendingSpec('by-command', 'echo', planted));
    const result = await run(home, ['--spec', byCommand], { script: 'start-worker.sh' });
    assert.equal(result.code, 0, result.stderr);
    tracker.pid(Number(result.stdout.trim()));
    const fromCommand = await waitFor(() => readArgv(join(home, 'argv-by-command.out')), { what: 'start-worker argv' });
    assert.deepEqual(fromCommand, ['fixed-word', hostile(home), 'task=', 'id=by-command']);

    writeSpecFile(home, 'active', pendingSpec('by-daemon', 'echo', planted));
    await startDaemon();
    const fromDaemon = await waitFor(() => readArgv(join(home, 'argv-by-daemon.out')), { what: 'daemon argv' });
    assert.deepEqual(fromDaemon, ['fixed-word', hostile(home), 'task=', 'id=by-daemon']);
    await waitFor(() => existsSync(specPath(home, 'completed', 'by-daemon')), { what: 'completion' });
    assertNothingRan(home);
    // The planted fields are data: kept in the spec, never used.
    assert.deepEqual(readJson(specPath(home, 'completed', 'by-daemon')).command, planted.command);
    assert.equal(events(home).filter((e) => e.event === 'spec_invalid').length, 0);
  }));

  test('a program name with shell syntax is looked up literally, never run through a shell', () => withHome({}, async ({ home }) => {
    writeFileSync(join(home, 'coordination', 'config', 'worker-types.json'), JSON.stringify({ worker_types: { odd: { command: [`touch ${home}/canary-1; true`] }, odd2: { command: [`sh -c "touch ${home}/canary-2"`] } } }));
    mkdirSync(join(home, 'sentinel'));
    writeFileSync(join(home, 'sentinel', 'keep'), 'keep');
    openHome(home);
    for (const type of ['odd', 'odd2']) {
      writeSpecFile(home, 'active', pendingSpec(`w-${type}`, type));
      const result = await run(home, ['--spec', specPath(home, 'active', `w-${type}`)], { script: 'start-worker.sh' });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /cannot start: program .* not (found|an executable file)/);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
    assertNothingRan(home);
  }));
});

describe('arguments never pass through a shell', () => {
  test('any description reaches the worker byte for byte as one argv element, placeholders inside it not expanded', () => withRecorder(async ({ home, paths, tracker }) => {
    const type = loadWorkerTypes(paths).get('echo');
    const description = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 80 }),
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.array(fc.constantFrom('$(', ')', '`', ';', '&&', '||', '|', '>', '<', '*', '?', '~', '$HOME', '"', "'", '\\', '\n', '\t', ' ', '{worker_id}', '{home}', '{description}', '--', '-rf', '%s', '%n', 'é', '😀'), { maxLength: 20 }).map((parts) => parts.join('')),
    ).filter((s) => !s.includes('\0') && s.isWellFormed());
    let n = 0;
    await fc.assert(
      fc.asyncProperty(description, async (text) => {
        n += 1;
        const workerId = `argv-${n}`;
        const result = spawnWorker(paths, { workerId, taskId: null, description: text, workerType: type, restartCount: 0 });
        tracker.group(result.pid);
        result.child.unref();
        const argv = await waitFor(() => readArgv(join(home, `argv-${workerId}.out`)), { what: 'argv file' });
        assert.deepEqual(argv, ['fixed-word', text, 'task=', `id=${workerId}`]);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS) || 40, includeErrorInReport: true },
    );
  }));

  test('a description with a NUL byte is refused as SPAWN_FAILED, nothing started', () => withRecorder(async ({ home, paths }) => {
    const type = loadWorkerTypes(paths).get('echo');
    assert.throws(
      () => spawnWorker(paths, { workerId: 'nul', taskId: null, description: 'a\0b', workerType: type, restartCount: 0 }),
      (/** @type {import('../../dist/errors.js').RelayError} */ error) => error instanceof RelayError && error.code === 'SPAWN_FAILED',
    );
    assert.equal(existsSync(join(home, 'argv-nul.out')), false);
  }));

  test('the worker shim runs its command as "$@": no eval, no word splitting', () => {
    const shim = readFileSync(new URL('../../scripts/lib/worker-shim.sh', import.meta.url), 'utf8');
    const code = shim.split('\n').filter((line) => !line.trimStart().startsWith('#'));
    assert.ok(code.some((line) => /^"\$@" &$/.test(line.trim())), 'the command runs as "$@"');
    assert.equal(code.filter((line) => /\beval\b|\bsh -c\b|\$\*/.test(line)).length, 0, 'no eval, sh -c or $*');
  });

  test('no module of src/ starts a process through a shell', () => {
    const offenders = [];
    const walk = (dir) => {
      for (const name of readdirSync(dir, { withFileTypes: true })) {
        const full = join(dir, name.name);
        if (name.isDirectory()) walk(full);
        else if (name.name.endsWith('.ts')) {
          const text = readFileSync(full, 'utf8');
          // exec( is child_process's shell runner only where child_process is imported (a Redis MULTI's .exec() is not).
          const childProcess = /from ['"](node:)?child_process['"]/.test(text);
          if (/shell\s*:\s*true|\bexecSync\s*\(|execaCommand|\$`|spawnSync\(\s*['"]sh['"]/.test(text) || (childProcess && /\bexec\s*\(/.test(text))) offenders.push(full);
        }
      }
    };
    walk(new URL('../../src', import.meta.url).pathname);
    assert.deepEqual(offenders, []);
  });
});
