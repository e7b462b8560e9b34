import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyExitRecordIfAny, startWorker, stopWorker } from '../../dist/worker/index.js';
import { withHome } from '../helpers/scope.js';
import { ROOT, waitFor } from '../helpers/home.js';
import { isLive } from '../helpers/processes.js';
import { readSpecFile, specPath, uniqueId, writePendingSpec } from '../helpers/specs.js';

const SCOPE = {
  types: {
    demo: { command: ['node', join(ROOT, 'agents', 'demo-agent.js'), '--task', '{description}', '--steps', '2', '--interval', '0.1'], stop_grace_seconds: 0.5 },
  },
};

async function runToExit(t, id) {
  const run = await startWorker(t.ctx(), id);
  t.tracker.group(run.pid);
  await waitFor(() => existsSync(t.paths.exitFile(id)), { what: `${id} to exit` });
  return applyExitRecordIfAny(t.ctx(), id);
}

test('demo agent: checks in with progress and finishes with exit 0', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('demo-ok');
  writePendingSpec(t.home, id, { workerType: 'demo', description: 'Count the files' });
  const result = await runToExit(t, id);
  assert.equal(result.outcome, 'completed');
  const checkin = JSON.parse(readFileSync(t.paths.checkinFile(id), 'utf8'));
  assert.deepEqual([checkin.worker_id, checkin.status, checkin.progress_pct], [id, 'completed', 100]);
  assert.ok(checkin.run_id.startsWith('run-'));
  assert.match(readFileSync(join(t.paths.workerLogDir(id), 'output.log'), 'utf8'), /done/);
}));

test('demo agent: [crash-once] crashes on the first run only', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('demo-crash');
  writePendingSpec(t.home, id, { workerType: 'demo', description: 'Flaky job [crash-once]' });
  const first = await runToExit(t, id);
  assert.equal(first.outcome, 'exited');
  assert.equal(readSpecFile(t.home, 'active', id).execution.exit_code, 1);
  // What the daemon's restart does: count the restart, start again.
  const spec = readSpecFile(t.home, 'active', id);
  spec.execution.restart_count = 1;
  writeFileSync(specPath(t.home, 'active', id), JSON.stringify(spec));
  const second = await runToExit(t, id);
  assert.equal(second.outcome, 'completed');
}));

test('demo agent: [hang] [ignore-sigterm] [fork-grandchild] needs SIGKILL, and the grandchild goes with the group', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('demo-hang');
  writePendingSpec(t.home, id, { workerType: 'demo', description: 'Stuck [hang] [ignore-sigterm] [fork-grandchild]' });
  const run = await startWorker(t.ctx(), id);
  t.tracker.group(run.pid);
  const log = join(t.paths.workerLogDir(id), 'output.log');
  const grandchild = await waitFor(() => {
    const match = /forked grandchild pid (\d+)/.exec(readFileSync(log, 'utf8'));
    return match && readFileSync(log, 'utf8').includes('hanging') ? Number(match[1]) : undefined;
  }, { what: 'the agent to hang' });
  t.tracker.pid(grandchild);
  const stopped = await stopWorker(t.ctx(), id, 'test');
  assert.equal(stopped.outcome, 'killed');
  assert.match(readFileSync(log, 'utf8'), /SIGTERM received and ignored/);
  assert.equal(isLive(run.pid), false);
  await waitFor(() => !isLive(grandchild), { timeoutMs: 2000, what: 'the grandchild to be gone' });
}));
