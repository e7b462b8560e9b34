import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixtureCommand, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { buildSpec, readSpecFile, writePendingSpec, writeSpecFile } from '../helpers/specs.js';

// The worker forks `sleep 600` and writes its pid: a run of at least the shim, the fixture, the grandchild and the log pipe.
const TYPES = { forker: { command: fixtureCommand('fork-grandchild.sh', '{home}/grandchild.pid'), stop_grace_seconds: 1 } };

test('describe: a running worker (its process tree with CPU and memory, health, check-in, events, log tail) in text and --json; a completed and an archived one; bad ids', () =>
  withHome({ types: TYPES }, async (t) => {
    const id = 'desc-run';
    const started = await run(t.home, ['--spec', writePendingSpec(t.home, id, { workerType: 'forker', taskId: 'task-d', description: 'describe <me>' })], { script: 'start-worker.sh' });
    assert.equal(started.code, 0, started.stderr);
    const shimPid = t.tracker.group(Number(started.stdout.trim()));
    const runId = readSpecFile(t.home, 'active', id).execution.run_id;
    const checkedIn = await run(t.home, ['--progress', '40', '--message', 'halfway'], { script: 'checkin.sh', env: { WORKER_ID: id, COMMIT_RELAY_RUN_ID: runId } });
    assert.equal(checkedIn.code, 0, checkedIn.stderr);
    writeFileSync(t.paths.pmState, JSON.stringify({ pm_daemon: { last_loop: new Date().toISOString() }, monitored_workers: { [id]: { health_state: 'late', health_reason: 'no check-in for 90s' } } }));
    const grandchildFile = join(t.home, 'grandchild.pid');
    await waitFor(() => existsSync(grandchildFile) && readFileSync(grandchildFile, 'utf8').endsWith('\n'), { what: 'the grandchild' });
    const grandchild = Number(readFileSync(grandchildFile, 'utf8'));

    // A completed worker (its log of 15 lines, events among other workers') and an archived one, as left in a home.
    const done = 'desc-done';
    writeSpecFile(t.home, 'completed', buildSpec(done, { status: 'completed', task_id: 'task-done', execution: { started_at: '2026-01-01T00:00:00.000Z', completed_at: '2026-01-01T00:05:00.000Z', exit_code: 0, run_id: 'run-finished' } }));
    mkdirSync(t.paths.workerLogDir(done), { recursive: true });
    writeFileSync(t.paths.workerLogFile(done), Array.from({ length: 15 }, (_, i) => `done line ${i + 1}\n`).join(''));
    const event = (/** @type {string} */ worker, /** @type {string} */ name) => `${JSON.stringify({ timestamp: '2026-01-01T00:05:00.000Z', event: name, worker_id: worker, data: {} })}\n`;
    appendFileSync(t.paths.activity, event(done, 'worker_completed') + event('someone-else', 'worker_failed') + 'not json\n');
    writeSpecFile(t.home, 'archived/batch-x', buildSpec('desc-old', { status: 'failed', error: 'gave up' }));

    const [text, json, doneText, doneJson, archived, unknown, badId] = await Promise.all([
      run(t.home, [id], { script: 'describe.sh' }),
      run(t.home, ['describe', id, '--json']),
      run(t.home, ['describe', done]),
      run(t.home, ['describe', done, '--json']),
      run(t.home, ['describe', 'desc-old', '--json']),
      run(t.home, ['describe', 'nobody-here']),
      run(t.home, ['describe', '../x']),
    ]);
    assert.equal(json.code, 0, json.stderr);
    const d = JSON.parse(json.stdout);
    assert.deepEqual(
      [d.worker_id, d.worker_type, d.task_id, d.description, d.status, d.folder, d.run_id, d.pid, d.restarts],
      [id, 'forker', 'task-d', 'describe <me>', 'running', 'active', runId, shimPid, 0],
    );
    assert.deepEqual([d.health.state, d.health.reason, d.health.daemon_running], ['late', 'no check-in for 90s', false]);
    assert.deepEqual([d.checkin.progress_pct, d.checkin.message, d.checkin.run_id], [40, 'halfway', runId]);
    assert.ok(d.processes.length >= 3, JSON.stringify(d.processes));
    assert.ok(d.processes.filter((/** @type {any} */ p) => p.rss_bytes > 0).length >= 2);
    assert.equal(d.processes[0].pid, shimPid, 'the shim first, its children after it');
    const sleeper = d.processes.find((/** @type {any} */ p) => p.pid === grandchild);
    assert.equal(sleeper?.command, 'sleep 600');
    assert.match(d.processes.find((/** @type {any} */ p) => p.pid === sleeper.ppid)?.command, /fork-grandchild\.sh/);
    assert.ok(d.processes.every((/** @type {any} */ p) => typeof p.cpu_percent === 'number' && p.pgrp === shimPid));
    assert.deepEqual(d.events.map((/** @type {any} */ e) => e.event), ['worker_started']);
    assert.equal(d.log.file, t.paths.workerLogFile(id));
    assert.match(d.log.last_lines[0], new RegExp(`^=== \\S+ run ${runId} of ${id} `));

    assert.equal(text.code, 0, text.stderr);
    for (const line of [
      /^Worker: +desc-run$/m,
      /^Description: +describe <me>$/m,
      /^Status: +running, in worker-specs\/active\/$/m,
      /^Health: +late: no check-in for 90s \(the daemon is not running: as it last saw it, \S+\)$/m,
      new RegExp(`^Run: +${runId}, pid ${shimPid}$`, 'm'),
      /^Processes: +\d+, [\d.]+ MiB resident in all$/m,
      new RegExp(`^ +${grandchild} +\\d+ +[\\d.]+ +[\\d.]+ MiB  sleep 600$`, 'm'),
      /^Last check-in: \S+ \(\d+s ago\): in_progress, 40%, halfway$/m,
      /^ {2}\S+ {2}worker_started \{"pid":/m,
      new RegExp(`^Log: +${t.paths.workerLogFile(id)}\n {2}=== `, 'm'),
    ]) {
      assert.match(text.stdout, line);
    }

    assert.equal(doneJson.code, 0, doneJson.stderr);
    const c = JSON.parse(doneJson.stdout);
    assert.deepEqual([c.status, c.folder, c.exit_code, c.health.state, c.processes], ['completed', 'completed', 0, null, []]);
    assert.deepEqual(c.events.map((/** @type {any} */ e) => e.event), ['worker_completed']);
    assert.deepEqual(c.log.last_lines, Array.from({ length: 10 }, (_, i) => `done line ${i + 6}`));
    assert.match(doneText.stdout, /^Processes: +no processes$/m);
    assert.match(doneText.stdout, /^Last exit: +code 0$/m);
    assert.match(doneText.stdout, /^ {2}done line 15\n$/m);
    assert.deepEqual([JSON.parse(archived.stdout).folder, JSON.parse(archived.stdout).error], ['archived/batch-x', 'gave up']);
    assert.deepEqual([unknown.code, unknown.stderr], [3, 'commit-relay: no worker "nobody-here": no spec in worker-specs/ (active, completed, failed or archived)\n']);
    assert.deepEqual([badId.code, badId.stderr], [2, 'commit-relay: invalid worker id "../x": it contains a path separator\n']);
  }));
