// The runs a departed worker (its spec no longer in active/) may have left running: not only the one a pass
// saw alive, but the one its spec records wherever an operator moved it, and the one the daemon last started.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { departedRuns } from '../../dist/daemon/orphans.js';
import { withHome } from '../helpers/scope.js';
import { buildSpec, writeSpecFile } from '../helpers/specs.js';

const run = (workerId, pid, startTicks, runId) => ({ workerId, identity: { pid, startTicks, bootId: 'b' }, runId });

test('departedRuns: the memory\'s run, the run the moved spec records, the daemon\'s started run, each once', () => withHome({}, async ({ home, paths }) => {
  // Moved to failed/ by hand while recording run B, which no pass had seen yet (memory still says A).
  writeSpecFile(home, 'failed', buildSpec('w-1', { status: 'failed', execution: { pid: 222, process_start_ticks: 22, boot_id: 'b', run_id: 'run-b', started_at: null, completed_at: null, restart_count: 1 } }));
  const fromMemory = run('w-1', 111, 11, 'run-a');
  const started = { 'w-1': run('w-1', 333, 33, 'run-c'), 'w-2': run('w-2', 444, 44, 'run-d') };
  const runs = departedRuns(paths, [fromMemory, run('w-2', 444, 44, 'run-d')], (id) => started[id]);
  assert.deepEqual(runs.map((r) => `${r.workerId} ${r.runId}`), ['w-1 run-a', 'w-1 run-b', 'w-1 run-c', 'w-2 run-d']);
}));

test('departedRuns: a spec back in active/ or recording no process adds nothing; a worker the memory never saw alive still gets its recorded run', () => withHome({}, async ({ home, paths }) => {
  writeSpecFile(home, 'active', buildSpec('w-back', { status: 'running', execution: { pid: 5, process_start_ticks: 5, boot_id: 'b', run_id: 'run-back', started_at: null, completed_at: null, restart_count: 0 } }));
  writeSpecFile(home, 'completed', buildSpec('w-done', { status: 'completed' }));
  writeSpecFile(home, 'failed', buildSpec('w-unseen', { status: 'failed', execution: { pid: 7, process_start_ticks: 70, boot_id: 'b', run_id: 'run-u', started_at: null, completed_at: null, restart_count: 0 } }));
  const none = { workerId: '', identity: null, runId: null };
  const runs = departedRuns(paths, [{ ...none, workerId: 'w-back' }, { ...none, workerId: 'w-done' }, { ...none, workerId: 'w-unseen' }], () => undefined);
  assert.deepEqual(runs.map((r) => `${r.workerId} ${r.runId} ${r.identity?.pid ?? null}`), ['w-back null null', 'w-done null null', 'w-unseen null null', 'w-unseen run-u 7']);
}));
