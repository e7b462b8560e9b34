import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startWorker } from '../../dist/worker/index.js';
import { withHome } from '../helpers/scope.js';
import { FIXTURES, readJsonl, waitFor } from '../helpers/home.js';
import { childrenOf, shimPidsOf } from '../helpers/processes.js';
import { readSpecFile, uniqueId, writePendingSpec } from '../helpers/specs.js';

const SCOPE = {
  types: {
    fixture: { command: ['sh', join(FIXTURES, 'forever.sh')], stop_grace_seconds: 1 },
    env: { command: ['sh', join(FIXTURES, 'env-then-wait.sh'), '{home}/env.txt'], checkin_timeout_seconds: 90, env: { EXTRA: 'x' } },
    args: { command: [join(FIXTURES, 'echo-args.sh'), 'id={worker_id}', 'task={task_id}', '{description}', 'home={home}'] },
    missing: { command: ['./no/such/program', '{worker_id}'] },
    missingOnPath: { command: ['no-such-program-relay-test'] },
    notExecutable: { command: ['./not-executable.sh'] },
  },
};

test('start: ps aux finds the worker by its id, the spec records the pid and its identity', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('st-ps');
  writePendingSpec(t.home, id);
  const result = await startWorker(t.ctx(), id);
  t.tracker.group(result.pid);
  const ps = execFileSync('ps', ['aux'], { encoding: 'utf8' });
  const line = ps.split('\n').find((l) => l.includes(id));
  assert.ok(line, `ps aux shows a line with ${id}`);
  assert.equal(Number(line.trim().split(/\s+/)[1]), result.pid, 'the line is the recorded pid');

  const spec = readSpecFile(t.home, 'active', id);
  assert.equal(spec.status, 'running');
  assert.equal(spec.execution.pid, result.pid);
  assert.equal(spec.execution.run_id, result.runId);
  assert.equal(typeof spec.execution.process_start_ticks, 'number');
  assert.equal(typeof spec.execution.boot_id, 'string');
  assert.ok(spec.execution.started_at);
  assert.equal(spec.execution.restart_count, 0);
  assert.equal(spec.error, null);
  // The worker runs in its own process group, led by the shim.
  const stat = readFileSync(`/proc/${result.pid}/stat`, 'utf8');
  assert.equal(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]), result.pid);
  const events = readJsonl(t.paths.activity).filter((e) => e.event === 'worker_started');
  assert.equal(events.length, 1);
  assert.equal(events[0].worker_id, id);
  assert.equal(events[0].data.pid, result.pid);
  assert.equal(events[0].data.reason, 'start');
  assert.match(readFileSync(join(t.paths.workerLogDir(id), 'output.log'), 'utf8'), new RegExp(`run ${result.runId}`));
}));

test('start: the worker gets its environment and runs in the home', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('st-env');
  writePendingSpec(t.home, id, { workerType: 'env', taskId: 'task-1' });
  const result = await startWorker(t.ctx(), id);
  t.tracker.group(result.pid);
  const file = join(t.home, 'env.txt');
  await waitFor(() => existsSync(file), { what: 'env.txt' });
  const env = Object.fromEntries(readFileSync(file, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.equal(env.WORKER_ID, id);
  assert.equal(env.TASK_ID, 'task-1');
  assert.equal(env.COMMIT_RELAY_HOME, t.home);
  assert.equal(env.COMMIT_RELAY_RUN_ID, result.runId);
  assert.equal(env.COMMIT_RELAY_CHECKIN_INTERVAL, '30');
  assert.equal(env.COMMIT_RELAY_RESTART_COUNT, '0');
  assert.equal(env.PWD, t.home);
}));

test('start: placeholders are replaced inside elements and nothing goes through a shell', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('st-args');
  const description = 'say "hi" $(touch pwned) `touch pwned2`; {home} stays';
  writePendingSpec(t.home, id, { workerType: 'args', taskId: 'task-9', description });
  const result = await startWorker(t.ctx(), id, { keepChild: true });
  t.tracker.group(result.pid);
  const log = join(t.paths.workerLogDir(id), 'output.log');
  await waitFor(() => readFileSync(log, 'utf8').includes('ARGS-END'), { what: 'the args in the log' });
  const text = readFileSync(log, 'utf8');
  const lines = text.slice(text.indexOf('ARGS-BEGIN\n') + 11, text.indexOf('ARGS-END')).split('\n').slice(0, -1);
  assert.deepEqual(lines, [`id=${id}`, 'task=task-9', description, `home=${t.home}`]);
  assert.equal(existsSync(join(t.home, 'pwned')), false);
  assert.equal(existsSync(join(t.home, 'pwned2')), false);
}));

test('start: a running worker is never started twice, also by two starts at once', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('st-twice');
  writePendingSpec(t.home, id);
  const results = await Promise.allSettled([startWorker(t.ctx(), id), startWorker(t.ctx(), id)]);
  for (const r of results) if (r.status === 'fulfilled') t.tracker.group(r.value.pid);
  const ok = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r) => r.status === 'rejected');
  assert.equal(ok.length, 1);
  assert.equal(refused.length, 1);
  assert.equal(refused[0].reason.code, 'ALREADY_RUNNING');
  await assert.rejects(startWorker(t.ctx(), id), { code: 'ALREADY_RUNNING' });
  assert.deepEqual(shimPidsOf(id), [ok[0].value.pid], 'exactly one shim runs');
  // The shim sets up its log pipe before it forks the worker: wait for that, then exactly one.
  await waitFor(() => childrenOf(ok[0].value.pid).length > 0, { what: 'the worker under the shim' });
  assert.equal(childrenOf(ok[0].value.pid).length, 1, 'with exactly one worker process');
  assert.equal(readJsonl(t.paths.activity).filter((e) => e.event === 'worker_started').length, 1);
}));

for (const [type, expected] of /** @type {Array<[string, RegExp]>} */ ([
  ['missing', /cannot start: program \.\/no\/such\/program not found/],
  ['missingOnPath', /cannot start: program no-such-program-relay-test not found on PATH/],
  ['notExecutable', /cannot start: program \.\/not-executable\.sh is not an executable file/],
])) {
  test(`start: a program that cannot start (${type}) fails the spec with an error and an event`, () => withHome(SCOPE, async (t) => {
    writeFileSync(join(t.home, 'not-executable.sh'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(t.home, 'not-executable.sh'), 0o644);
    const id = uniqueId('st-fail');
    writePendingSpec(t.home, id, { workerType: type, taskId: 'task-x' });
    writeFileSync(t.paths.taskQueue, JSON.stringify({ tasks: [{ task_id: 'task-x', description: 'd', priority: 'high', worker_type: type, status: 'assigned', created_at: new Date().toISOString(), metadata: {}, worker_id: id }] }));
    await assert.rejects(startWorker(t.ctx(), id), (/** @type {import('../../dist/errors.js').RelayError} */ error) => error.code === 'SPAWN_FAILED' && expected.test(error.message));
    assert.equal(readSpecFile(t.home, 'active', id), undefined);
    const spec = readSpecFile(t.home, 'failed', id);
    assert.equal(spec.status, 'failed');
    assert.match(spec.error, expected);
    assert.equal(spec.execution.pid, null);
    assert.ok(spec.execution.completed_at);
    const failed = readJsonl(t.paths.activity).filter((e) => e.event === 'worker_failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].data.reason, 'spawn_failed');
    const task = JSON.parse(readFileSync(t.paths.taskQueue, 'utf8')).tasks[0];
    assert.equal(task.status, 'failed');
    assert.match(task.error, expected);
  }));
}

test('start: refuses a spec that is not pending, and an invalid spec, without changing them', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('st-bad');
  writePendingSpec(t.home, id, { extra: { status: 'completed' } });
  await assert.rejects(startWorker(t.ctx(), id), { code: 'WRONG_STATE' });
  const bad = uniqueId('st-invalid');
  const file = join(t.paths.specDir('active'), `${bad}.json`);
  writeFileSync(file, '{"worker_id": "nope"');
  await assert.rejects(startWorker(t.ctx(), bad), { code: 'SPEC_INVALID' });
  assert.equal(readFileSync(file, 'utf8'), '{"worker_id": "nope"');
  await assert.rejects(startWorker(t.ctx(), uniqueId('st-none')), { code: 'SPEC_NOT_FOUND' });
}));

test('expandCommand and resolveProgram', () => withHome(SCOPE, async (t) => {
  const { expandCommand, resolveProgram } = await import('../../dist/process/spawn.js');
  assert.deepEqual(expandCommand(['x', '--id={worker_id}', '{description}', '{task_id}', '{unknown}'], { worker_id: 'w', task_id: null, description: '{home}', home: '/h' }), [
    'x',
    '--id=w',
    '{home}',
    '',
    '{unknown}',
  ]);
  assert.equal(resolveProgram('sh', t.home, process.env), 'sh');
  assert.equal(resolveProgram(join(FIXTURES, 'echo-args.sh'), t.home, process.env), join(FIXTURES, 'echo-args.sh'));
  assert.throws(() => resolveProgram('./nope', t.home, process.env), { code: 'SPAWN_FAILED', message: /program \.\/nope not found/ });
  assert.throws(() => resolveProgram('sh', t.home, { PATH: '' }), { code: 'SPAWN_FAILED', message: /not found on PATH/ });
  assert.throws(() => resolveProgram(FIXTURES, t.home, process.env), { code: 'SPAWN_FAILED', message: /not an executable file/ });
}));
