// What stop-worker and fail-worker say of the stop they made: the words follow the recorded end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeStop } from '../../dist/cli/commands/worker-command.js';

test('describeStop: TERM and its exit code; another signal that ended it within the grace is named; a kill after the grace; nothing running', () => {
  assert.equal(describeStop({ outcome: 'terminated', pid: 41, exit_code: 143, signal: null }), 'stopped (pid 41) by SIGTERM, exit code 143');
  assert.equal(describeStop({ outcome: 'terminated', pid: 41, exit_code: null, signal: 'SIGTERM' }), 'stopped (pid 41) by SIGTERM');
  // A second command's SIGKILL (stop-worker's, at the end of its grace) ended the process this command sent TERM to.
  assert.equal(describeStop({ outcome: 'terminated', pid: 41, exit_code: null, signal: 'SIGKILL' }), 'stopped (pid 41): after SIGTERM it ended by SIGKILL');
  assert.equal(describeStop({ outcome: 'killed', pid: 41, exit_code: null, signal: 'SIGKILL' }), 'killed (pid 41) with SIGKILL after the grace period');
  assert.equal(describeStop({ outcome: 'gone', pid: null, exit_code: null, signal: null }), 'no process was running');
});
