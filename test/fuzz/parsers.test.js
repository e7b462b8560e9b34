// Fuzzing the parsers of every file kind: whatever the bytes, they return a value or a RelayError with a
// code and one line naming the file; valid documents come back with their unknown fields intact.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { loadDaemonSettings, loadWorkerTypes } from '../../dist/config/load.js';
import { checkinSchema } from '../../dist/contract/checkin.js';
import { daemonConfigFileSchema } from '../../dist/contract/daemon-config.js';
import { parseJsonWith } from '../../dist/contract/parse.js';
import { taskQueueSchema } from '../../dist/contract/task-queue.js';
import { workerSpecSchema } from '../../dist/contract/worker-spec.js';
import { workerTypesFileSchema } from '../../dist/contract/worker-types.js';
import { RelayError } from '../../dist/errors.js';
import { readCheckin } from '../../dist/store/checkins.js';
import { homePaths, ensureLayout } from '../../dist/store/home.js';
import { parseSpec, readSpec, writeSpec } from '../../dist/store/specs.js';
import { readTaskQueue, updateTaskQueue } from '../../dist/store/tasks.js';
import {
  CHECKIN_REQUIRED,
  CHECKIN_WRONG,
  SPEC_REQUIRED,
  SPEC_WRONG,
  anyJson,
  badFileNameId,
  breakDocument,
  fcOptions,
  nested,
  validCheckin,
  validDaemonConfig,
  validId,
  validQueue,
  validSpec,
  validWorkerTypes,
} from './arbitraries.js';
import { makeHome, removeHome } from '../helpers/home.js';
import { failedRead, okRead } from '../helpers/specs.js';

/** JSON round trip: what a file holding the value would parse back to. */
const plain = (value) => JSON.parse(JSON.stringify(value));
const ONE_LINE = /^[^\n\r\u2028\u2029]*$/;

/** One line, apart from the file's own name (a planted file may carry a newline in its name; it is shown as it is). */
function assertOneLine(message, file) {
  const own = file === undefined ? message : message.split(file).join('');
  assert.match(own, ONE_LINE, `message is not one line: ${JSON.stringify(message)}`);
}

/** The error is a RelayError with one of the codes and a one-line message naming the file. */
/** @param {*} error @param {{ codes: string[], file?: string }} expected */
function assertRelayError(error, { codes, file }) {
  if (!(error instanceof RelayError)) throw new Error(`expected a RelayError, got ${error?.constructor?.name}: ${String(error?.stack ?? error)}`);
  assert.ok(codes.includes(error.code), `code ${error.code} not in ${codes.join(', ')}: ${error.message}`);
  assertOneLine(error.message, file);
  if (file !== undefined) assert.ok(error.message.includes(file), `message does not name ${file}: ${error.message}`);
}

/** Calls fn; returns its value, or checks what it threw and returns undefined. */
function valueOrRelayError(fn, expected) {
  try {
    return fn();
  } catch (error) {
    assertRelayError(error, expected);
    return undefined;
  }
}

/**
 * Any text a file could hold: random text, any JSON, or a broken copy of a valid document.
 * @param {import('fast-check').Arbitrary<object>} valid @param {string[]} required @param {Record<string, unknown[]>} wrong
 * @returns {import('fast-check').Arbitrary<string>}
 */
const anyFileText = (valid, required, wrong) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    anyJson.map((v) => JSON.stringify(v)),
    valid.chain((doc) => breakDocument(doc, required, wrong)).map((b) => b.text),
    valid.map((doc) => JSON.stringify(doc)),
  );

/** @type {Array<[string, import('zod').ZodType, import('fast-check').Arbitrary<object>, string[], Record<string, unknown[]>]>} */
const SCHEMAS = [
  ['worker spec', workerSpecSchema, validSpec(), SPEC_REQUIRED, SPEC_WRONG],
  ['check-in', checkinSchema, validCheckin(), CHECKIN_REQUIRED, CHECKIN_WRONG],
  ['task queue', taskQueueSchema, validQueue, ['tasks'], { tasks: [{}, 'x', [{ task_id: '../x' }], null] }],
  ['worker types', workerTypesFileSchema, validWorkerTypes, ['worker_types'], { worker_types: [[], 'x', { a: {} }, { 'a/b': { command: ['x'] } }, { a: { command: [] } }, { a: { command: 'sh -c x' } }] }],
  ['daemon config', daemonConfigFileSchema, validDaemonConfig, ['loop_interval_seconds'], { loop_interval_seconds: [-1, 0, 'fast'], metrics: [{ host: '0.0.0.0' }, { port: 70000 }], surprise: [1] }],
];

describe('parseJsonWith', () => {
  for (const [name, schema, valid, required, wrong] of SCHEMAS) {
    test(`${name}: any text parses or fails with a RelayError of the given code, one line, naming the file`, () => {
      fc.assert(
        fc.property(anyFileText(valid, required, wrong), (text) => {
          valueOrRelayError(() => parseJsonWith(schema, text, '/home/x/coordination/some-file.json', 'FILE_INVALID'), { codes: ['FILE_INVALID'], file: '/home/x/coordination/some-file.json' });
        }),
        fcOptions(150),
      );
    });
  }

  test('a broken spec is SPEC_INVALID, whatever broke it', () => {
    fc.assert(
      fc.property(validSpec().chain((doc) => breakDocument(doc, SPEC_REQUIRED, SPEC_WRONG).map((b) => ({ doc, b }))), ({ doc, b }) => {
        assert.throws(() => parseSpec(b.text, '/h/active/w.json', doc.worker_id), (/** @type {import('../../dist/errors.js').RelayError} */ error) => {
          assertRelayError(error, { codes: ['SPEC_INVALID'], file: '/h/active/w.json' });
          return true;
        }, b.how);
      }),
      fcOptions(200),
    );
  });

  test('a valid spec round-trips with its unknown fields, at every depth', () => {
    fc.assert(
      fc.property(validSpec(), (doc) => {
        assert.deepEqual(plain(parseSpec(JSON.stringify(doc), 'f.json', doc.worker_id)), plain(doc));
      }),
      fcOptions(200),
    );
  });

  test('a spec whose worker_id is not its file name is refused', () => {
    fc.assert(
      fc.property(validSpec(), validId, (doc, other) => {
        fc.pre(other !== doc.worker_id);
        assert.throws(() => parseSpec(JSON.stringify(doc), 'f.json', other), (/** @type {import('../../dist/errors.js').RelayError} */ error) => {
          assertRelayError(error, { codes: ['SPEC_INVALID'], file: 'f.json' });
          return /does not match the file name/.test(error.message);
        });
      }),
      fcOptions(50),
    );
  });

  test('a "__proto__" key is dropped, never turned into a prototype', () => {
    const text = '{"worker_id":"w","worker_type":"t","task_id":null,"status":"pending","created_at":"2024-01-01T00:00:00Z","task":{"description":"d","__proto__":{"polluted":1}},"__proto__":{"polluted":1}}';
    const spec = parseSpec(text, 'f', 'w');
    assert.equal(Object.getPrototypeOf(spec), Object.prototype);
    assert.equal(Object.getPrototypeOf(spec.task), Object.prototype);
    assert.equal(spec.polluted, undefined);
    assert.equal({}.polluted, undefined);
    assert.equal(Object.hasOwn(spec, '__proto__'), false);
  });
});

describe('files on disk', () => {
  let home;
  let paths;
  before(() => {
    home = makeHome({ implementation: { command: ['true'] }, review: { command: ['true'] } });
    paths = homePaths(home);
    ensureLayout(paths);
  });
  after(() => removeHome(home));

  // What can sit at a path: text, or something that is not a regular file.
  const fileBody = (valid, required, wrong) =>
    fc.oneof(
      { weight: 8, arbitrary: anyFileText(valid, required, wrong).map((text) => ({ kind: 'text', text })) },
      { weight: 1, arbitrary: fc.constantFrom({ kind: 'symlink' }, { kind: 'fifo' }, { kind: 'dir' }, { kind: 'dangling' }) },
    );

  let n = 0;
  function place(file, body) {
    if (body.kind === 'text') writeFileSync(file, body.text);
    else if (body.kind === 'symlink') {
      const target = join(home, `outside-${(n += 1)}.json`);
      writeFileSync(target, '{"tasks":[]}');
      symlinkSync(target, file);
    } else if (body.kind === 'dangling') symlinkSync(join(home, 'no-such-file'), file);
    else if (body.kind === 'fifo') mkfifoSync(file);
    else mkdirSync(file);
  }
  // Node 20 has no fs.mkfifoSync: use mkfifo(1).
  function mkfifoSync(file) {
    execFileSync('mkfifo', [file]);
  }

  test('readSpec never throws for a listed file, whatever its name and content', () => {
    const name = fc.oneof(validId, badFileNameId);
    fc.assert(
      fc.property(name, fileBody(validSpec(), SPEC_REQUIRED, SPEC_WRONG), (id, body) => {
        const dir = join(home, 'coordination', 'worker-specs', 'active');
        const file = join(dir, `${id}.json`);
        rmSync(file, { recursive: true, force: true });
        place(file, body);
        const read = readSpec(paths, 'active', id);
        rmSync(file, { recursive: true, force: true });
        assert.ok(read !== undefined, 'a file that is there (even a dangling link) never reads as missing');
        if (read.ok) return;
        assert.equal(read.file, file);
        if (read.error.code === 'INVALID_ID') assertRelayError(read.error, { codes: ['INVALID_ID'] });
        else assertRelayError(read.error, { codes: ['SPEC_INVALID', 'FILE_INVALID'], file });
        if (body.kind !== 'text') assert.equal(read.error.code, 'FILE_INVALID', 'a link, FIFO or folder is never read');
      }),
      fcOptions(150),
    );
  });

  test('a valid spec survives writeSpec then readSpec with its unknown fields', async () => {
    await fc.assert(
      fc.asyncProperty(validSpec(), async (doc) => {
        await writeSpec(paths, 'completed', doc);
        const read = readSpec(paths, 'completed', doc.worker_id);
        assert.ok(read?.ok, read?.ok ? undefined : read?.error.message);
        assert.deepEqual(plain(read.spec), plain(doc));
      }),
      fcOptions(60),
    );
  });

  test('readCheckin never throws; a bad check-in is a one-line reason naming the file; a good one round-trips', () => {
    fc.assert(
      fc.property(validId, fileBody(validCheckin(), CHECKIN_REQUIRED, CHECKIN_WRONG), validCheckin(), fc.boolean(), (id, body, good, useGood) => {
        const file = paths.checkinFile(id);
        rmSync(file, { recursive: true, force: true });
        const doc = { ...good, worker_id: id };
        place(file, useGood ? { kind: 'text', text: JSON.stringify(doc) } : body);
        const read = readCheckin(paths, id);
        rmSync(file, { recursive: true, force: true });
        if (useGood) {
          assert.ok(read?.ok, read?.ok ? undefined : read?.reason);
          assert.deepEqual(plain(read.checkin), plain(doc));
          return;
        }
        assert.ok(read !== undefined, 'a file that is there (even a dangling link) never reads as missing');
        if (read.ok) return;
        assertOneLine(read.reason, file);
        assert.ok(read.reason.includes(file), read.reason);
        if (body.kind !== 'text') assert.match(read.reason, /symbolic link|not a regular file/);
      }),
      fcOptions(150),
    );
  });

  test('readTaskQueue: a bad queue is FILE_INVALID naming the file; a good one keeps its unknown fields through a rewrite', async () => {
    await fc.assert(
      fc.asyncProperty(fileBody(validQueue, ['tasks'], { tasks: [{}, 'x', [{ task_id: '../x' }], null, [{ task_id: 'a/b', description: 'd' }]] }), validQueue, fc.boolean(), async (body, good, useGood) => {
        rmSync(paths.taskQueue, { recursive: true, force: true });
        if (useGood) {
          writeFileSync(paths.taskQueue, JSON.stringify(good));
          assert.deepEqual(plain(readTaskQueue(paths)), plain(good));
          await updateTaskQueue(paths, () => undefined);
          assert.deepEqual(plain(readTaskQueue(paths)), plain(good));
          return;
        }
        place(paths.taskQueue, body);
        valueOrRelayError(() => readTaskQueue(paths), { codes: ['FILE_INVALID', 'IO_FAILED'], file: paths.taskQueue });
      }),
      fcOptions(100),
    );
    rmSync(paths.taskQueue, { recursive: true, force: true });
  });

  test('loadWorkerTypes: a bad file is CONFIG_INVALID naming the file; a good one loads as written', () => {
    const wrong = { worker_types: [[], 'x', null, { a: {} }, { 'a/b': { command: ['x'] } }, { '': { command: ['x'] } }, { a: { command: [] } }, { a: { command: 'sh -c x' } }, { a: { command: ['x'], shell: true } }] };
    fc.assert(
      fc.property(fileBody(validWorkerTypes, ['worker_types'], wrong), validWorkerTypes, fc.boolean(), (body, good, useGood) => {
        rmSync(paths.workerTypes, { recursive: true, force: true });
        if (useGood) {
          writeFileSync(paths.workerTypes, JSON.stringify(good));
          const types = loadWorkerTypes(paths);
          for (const [name, type] of Object.entries(good.worker_types)) assert.deepEqual(types.get(name).command, type.command);
          return;
        }
        place(paths.workerTypes, body);
        // A symlinked config file is followed (the operator's choice); its target here is not a worker-types file.
        valueOrRelayError(() => loadWorkerTypes(paths), { codes: ['CONFIG_INVALID', 'FILE_INVALID', 'IO_FAILED'], file: paths.workerTypes });
      }),
      fcOptions(150),
    );
    // The last run may have left a folder or a FIFO there (writing to a FIFO with no reader blocks forever).
    rmSync(paths.workerTypes, { recursive: true, force: true });
    writeFileSync(paths.workerTypes, JSON.stringify({ worker_types: { implementation: { command: ['true'] }, review: { command: ['true'] } } }));
  });

  test('loadDaemonSettings: a bad file is CONFIG_INVALID naming the file; a good one is in force', () => {
    const wrong = { loop_interval_seconds: [-1, 0, 'fast', null], metrics: [{ host: '0.0.0.0' }, { port: 70000 }, { host: '10.0.0.1' }], max_concurrent_workers: [1.5, -1], log_level: ['loud'], surprise: [1] };
    fc.assert(
      fc.property(fileBody(validDaemonConfig, ['loop_interval_seconds'], wrong), validDaemonConfig, fc.boolean(), (body, good, useGood) => {
        rmSync(paths.daemonConfig, { recursive: true, force: true });
        if (useGood) {
          writeFileSync(paths.daemonConfig, JSON.stringify(good));
          const settings = loadDaemonSettings(paths, {});
          if (good.loop_interval_seconds !== undefined) assert.equal(settings.loopIntervalSeconds, good.loop_interval_seconds);
          if (good.metrics?.host !== undefined) assert.equal(settings.metrics.host, good.metrics.host);
          return;
        }
        place(paths.daemonConfig, body);
        valueOrRelayError(() => loadDaemonSettings(paths, {}), { codes: ['CONFIG_INVALID', 'FILE_INVALID', 'IO_FAILED'], file: paths.daemonConfig });
      }),
      fcOptions(150),
    );
    rmSync(paths.daemonConfig, { recursive: true, force: true });
  });

  test('deep nesting: a spec is refused, or it can be written back (never accepted and then unwritable)', async () => {
    for (const depth of [10, 100, 1000, 3000, 10_000, 200_000]) {
      const id = `deep-${depth}`;
      const text = `{"worker_id":"${id}","worker_type":"implementation","task_id":null,"status":"pending","created_at":"2024-01-01T00:00:00Z","task":{"description":"d","extra":${nested(depth)}}}`;
      const file = paths.specFile('active', id);
      writeFileSync(file, text);
      const read = readSpec(paths, 'active', id);
      assert.ok(read !== undefined);
      if (!read.ok) {
        assertRelayError(read.error, { codes: ['SPEC_INVALID'], file });
        continue;
      }
      // Accepted: the daemon will rewrite it (start, exit, move), so a rewrite must work. (Compared as text:
      // the test runner's own reporter cannot print a diff of a structure this deep.)
      let failure;
      await writeSpec(paths, 'active', read.spec).catch((error) => (failure = `${error.constructor.name}: ${error.message}`));
      assert.equal(failure, undefined, `depth ${depth}: accepted as valid but cannot be written back`);
      assert.equal(JSON.stringify(okRead(readSpec(paths, 'active', id)).spec), JSON.stringify(read.spec));
      rmSync(file);
    }
  });

  test('deep nesting in any file kind is refused or parsed, never a crash', () => {
    for (const depth of [1000, 10_000, 200_000]) {
      const deep = nested(depth);
      for (const [schema, text] of /** @type {Array<[import('zod').ZodType, string]>} */ ([
        [checkinSchema, `{"worker_id":"w","timestamp":"2024-01-01T00:00:00Z","status":"in_progress","progress_pct":5,"x":${deep}}`],
        [taskQueueSchema, `{"tasks":[],"x":${deep}}`],
        [workerTypesFileSchema, `{"worker_types":{"a":{"command":${deep}}}}`],
        [daemonConfigFileSchema, `{"alerts":${deep}}`],
      ])) {
        valueOrRelayError(() => parseJsonWith(schema, text, 'F.json', 'FILE_INVALID'), { codes: ['FILE_INVALID'], file: 'F.json' });
      }
    }
  });

  test('1 MB files: a 1 MB description round-trips; 1 MB of junk is refused in one line; over 8 MiB is refused unread', async () => {
    const big = 'é'.repeat(512 * 1024);
    /** @type {import('../../dist/contract/worker-spec.js').WorkerSpec} */
    const doc = { worker_id: 'big', worker_type: 'implementation', task_id: null, status: 'pending', created_at: '2024-01-01T00:00:00.000Z', task: { description: big }, extra: { s: big } };
    await writeSpec(paths, 'active', doc);
    assert.deepEqual(okRead(readSpec(paths, 'active', 'big')).spec, doc);

    const junkFile = paths.specFile('active', 'junk');
    for (const junk of [Buffer.alloc(1024 * 1024, 0), Buffer.alloc(1024 * 1024, 0x7b), Buffer.from(`{"worker_id":"junk","task":{"description":"${'x'.repeat(1024 * 1024)}`)]) {
      writeFileSync(junkFile, junk);
      const read = failedRead(readSpec(paths, 'active', 'junk'));
      assert.equal(read.ok, false);
      assertRelayError(read.error, { codes: ['SPEC_INVALID'], file: junkFile });
      assert.ok(read.error.message.length < 500, `a short reason, got ${read.error.message.length} characters`);
    }
    writeFileSync(junkFile, Buffer.alloc(9 * 1024 * 1024, 0x20));
    const huge = failedRead(readSpec(paths, 'active', 'junk'));
    assertRelayError(huge.error, { codes: ['FILE_INVALID'], file: junkFile });
    assert.match(huge.error.message, /over the .*-byte limit/);
    rmSync(junkFile);
    rmSync(paths.specFile('active', 'big'));
  });

  test('unknown keys in configuration are named, even odd ones, in one line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).filter((k) => k !== '$comment' && k !== 'worker_types' && k !== '__proto__'), (key) => {
        writeFileSync(paths.workerTypes, JSON.stringify({ worker_types: { implementation: { command: ['true'] } }, [key]: 1 }));
        assert.throws(() => loadWorkerTypes(paths), (/** @type {import('../../dist/errors.js').RelayError} */ error) => {
          assertRelayError(error, { codes: ['CONFIG_INVALID'], file: paths.workerTypes });
          return /unknown key/.test(error.message);
        });
      }),
      fcOptions(100),
    );
    writeFileSync(paths.workerTypes, JSON.stringify({ worker_types: { implementation: { command: ['true'] }, review: { command: ['true'] } } }));
  });
});
