// What a run records of its type's limits (`execution.type_limits`), so that it is supervised under them once its
// type is removed from worker-types.json: the numbers, and the agent keys its type set (blocked_timeout_seconds, heartbeat).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_TYPE_LIMITS, limitsOf, recordedTypeLimits, typeLimitsOf } from '../../dist/core/limits.js';
import { WORKER_TYPE_DEFAULTS } from '../../dist/contract/worker-types.js';

test('typeLimitsOf records the agent keys a type set, recordedTypeLimits reads them back, limitsOf uses them', () => {
  const agent = { ...WORKER_TYPE_DEFAULTS, command: ['x'], blocked_timeout_seconds: 90, heartbeat: /** @type {const} */ ('output') };
  const recorded = typeLimitsOf(agent);
  assert.equal(recorded.blocked_timeout_seconds, 90);
  assert.equal(recorded.heartbeat, 'output');
  const back = recordedTypeLimits(JSON.parse(JSON.stringify(recorded)));
  assert.ok(back !== undefined);
  const limits = limitsOf(back);
  assert.deepEqual([limits.blockedTimeoutMs, limits.heartbeat], [90_000, 'output']);

  // A plain type records only the numbers (specs written before stay as they were).
  const plain = typeLimitsOf({ ...WORKER_TYPE_DEFAULTS });
  assert.deepEqual(Object.keys(plain).sort(), Object.keys(DEFAULT_TYPE_LIMITS).sort());
  const plainLimits = limitsOf(/** @type {NonNullable<ReturnType<typeof recordedTypeLimits>>} */ (recordedTypeLimits(plain)));
  assert.deepEqual([plainLimits.blockedTimeoutMs, plainLimits.heartbeat], [null, 'checkin']);

  // Read leniently: a bad value is dropped, not trusted.
  const odd = recordedTypeLimits({ ...plain, blocked_timeout_seconds: -1, heartbeat: 'telepathy' });
  assert.ok(odd !== undefined && !('blocked_timeout_seconds' in odd) && !('heartbeat' in odd));
  assert.equal(recordedTypeLimits('nope'), undefined);
});
