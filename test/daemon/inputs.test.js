// The worker-types.json rule, one reload at a time (PassInputs): a bad version is reported once per
// content and changes nothing; a fix says so; a removed type is kept for its workers and named once.
import assert from 'node:assert/strict';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../../dist/core/clock.js';
import { PassInputs } from '../../dist/daemon/inputs.js';
import { createFileLogger } from '../../dist/log.js';
import { coord } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';

const A = { command: ['sh', '-c', 'true'], stall_timeout_seconds: 7 };
const B = { command: ['sh', '-c', 'true'], stall_timeout_seconds: 9 };

test('PassInputs: bad versions, a removed file, a fix, a removed type', () =>
  withHome({ types: { a: A, b: B } }, async (t) => {
    const file = coord(t.home, 'config', 'worker-types.json');
    let n = 0;
    /** A new version of the file (renamed over it, so the signature always changes). @param {string} text */
    const save = (text) => {
      writeFileSync(`${file}.${++n}`, text);
      renameSync(`${file}.${n}`, file);
    };
    /** @type {unknown[]} */
    const errors = [];
    const { logger, flush } = createFileLogger(join(t.home, 'test.log'), 'silent');
    t.defer(flush);
    const inputs = new PassInputs(t.paths, logger, systemClock(), (_where, error) => errors.push(error));
    const first = inputs.fileStatus;
    assert.equal(first.status, 'ok');
    assert.deepEqual(inputs.reloadWorkerTypesIfChanged(), { events: [], changed: false }, 'nothing changed');

    save('{"worker_types": ');
    const bad = inputs.reloadWorkerTypesIfChanged();
    assert.deepEqual(bad.events.map((e) => e.event), ['config_invalid']);
    assert.equal(bad.changed, false);
    assert.equal(inputs.fileStatus.status, 'invalid');
    assert.equal(inputs.fileStatus.version, first.version, 'the last good version stays in force');
    assert.equal(inputs.limits.a?.stallTimeoutMs, 7000);
    save('{"worker_types": ');
    assert.deepEqual(inputs.reloadWorkerTypesIfChanged().events, [], 'the same bad content: said once');

    rmSync(file);
    const gone = inputs.reloadWorkerTypesIfChanged().events;
    assert.equal(gone[0]?.event, 'config_invalid');
    assert.match(String(gone[0]?.data?.reason), /missing/);
    const since = inputs.fileStatus.invalid_since;

    save(JSON.stringify({ worker_types: { a: A, b: B } }, null, 2)); // as the fixture wrote it
    const back = inputs.reloadWorkerTypesIfChanged();
    assert.equal(back.events[0]?.event, 'config_reloaded');
    assert.equal(back.events[0]?.data?.recovered, true);
    assert.equal(back.changed, false, 'the same content as the version in force');
    assert.equal(inputs.fileStatus.status, 'ok');
    assert.ok(since !== null);

    // b removed while a pending worker of it waits: kept (retired), accepted, its limits known, not a type in force.
    save(JSON.stringify({ worker_types: { a: A } }));
    const removed = inputs.reloadWorkerTypesIfChanged();
    assert.deepEqual(removed.events[0]?.data?.removed, ['b']);
    assert.equal(removed.changed, true);
    const spec = /** @type {import('../../dist/contract/worker-spec.js').WorkerSpec} */ ({ worker_id: 'w', worker_type: 'b', task_id: null, status: 'pending', created_at: new Date().toISOString(), task: { description: 'd' } });
    assert.equal(inputs.accepts(spec), true);
    assert.equal(inputs.accepts({ ...spec, worker_type: 'never' }), false, 'a pending spec of a type never known');
    assert.equal(inputs.accepts({ ...spec, worker_type: 'never', status: 'running' }), true, 'a run is always supervised');
    assert.equal(inputs.limits.b, undefined);
    assert.equal(inputs.retiredLimits.b?.stallTimeoutMs, 9000);
    assert.equal(inputs.workerTypes.types.b?.stall_timeout_seconds, 9, 'its stop grace and log limit are still known');
    assert.throws(() => inputs.workerTypes.get('b'), /unknown worker type "b"/, 'but it is never started');

    const named = inputs.noteMissingTypes([{ workerId: 'w', workerType: 'b', status: 'pending' }], [{ taskId: 't', priority: 'low', createdAt: '2025-01-01T00:00:00.000Z', workerType: 'b' }]);
    assert.deepEqual(named.map((e) => [e.event, e.data?.pending_worker_ids, e.data?.queued_task_ids]), [['worker_type_removed', ['w'], ['t']]]);
    assert.deepEqual(inputs.noteMissingTypes([{ workerId: 'w', workerType: 'b', status: 'pending' }], []), [], 'said once');
    assert.deepEqual(inputs.fileStatus.removed_types, { b: { worker_ids: ['w'], queued_task_ids: [] } });
    // Its last worker gone: the type is forgotten.
    assert.deepEqual(inputs.noteMissingTypes([], []), []);
    assert.deepEqual(inputs.fileStatus.removed_types, {});
    assert.equal(inputs.retiredLimits.b, undefined);
    assert.equal(inputs.accepts(spec), false);
    assert.deepEqual(errors, [], 'no daemon error');
  }));
