// Generators for the fuzz tests: valid documents of each file kind, and the ways a file can be broken.
import fc from 'fast-check';

/**
 * numRuns for a property: its default, or FUZZ_RUNS for a longer run. `scale` shrinks FUZZ_RUNS for a
 * costly property (the end-to-end daemon run takes seconds per run: it gets FUZZ_RUNS / 50).
 */
export function runs(defaultRuns, scale = 1) {
  const wanted = Number(process.env.FUZZ_RUNS);
  return Number.isFinite(wanted) && wanted > 0 ? Math.max(defaultRuns, Math.round(wanted * scale)) : defaultRuns;
}

/** fast-check options: a fixed seed when FUZZ_SEED is set, so a failure can be replayed. */
export function fcOptions(defaultRuns, extra = {}, scale = 1) {
  const seed = Number(process.env.FUZZ_SEED);
  return { numRuns: runs(defaultRuns, scale), includeErrorInReport: true, ...(process.env.FUZZ_SEED && Number.isFinite(seed) ? { seed } : {}), ...extra };
}

const ID_BODY = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-'.split('');
const ALNUM = ID_BODY.slice(0, 62);

/** Ids the contract accepts: ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ with no "..". */
export const validId = fc
  .tuple(fc.constantFrom(...ALNUM), fc.array(fc.constantFrom(...ID_BODY), { maxLength: 40 }))
  .map(([first, rest]) => first + rest.join(''))
  .filter((id) => !id.includes('..'));

/** Ids the contract refuses; every one of them is also a legal file name (no "/" and no NUL), so it can sit on disk. */
export const badFileNameId = fc.oneof(
  fc.constantFrom('..', '...', 'a..b', '.hidden', '-lead', '_lead', 'with space', 'tab\there', 'new\nline', 'é', 'Ünïcødé', '😀', 'x'.repeat(129), 'a\\b', '%2e%2e', '$(id)', '`id`', ';rm'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((s) => !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(s) || s.includes('..')),
).filter((s) => s !== '' && !s.includes('/') && !s.includes('\0') && Buffer.byteLength(`${s}.json`) <= 255 && s !== '.');

/** Ids that are not even legal file names or are path tricks: for commands and path functions. */
export const pathyId = fc.constantFrom('../x', '../../etc/passwd', 'a/b', '/abs', 'a\0b', '', '.', '..', 'x'.repeat(129), 'a/../b', './x');

const KNOWN_KEYS = new Set([
  'worker_id', 'worker_type', 'task_id', 'status', 'created_at', 'task', 'execution', 'error', 'description', 'tasks', 'priority', 'metadata',
  'assigned_at', 'completed_at', 'started_at', 'pid', 'restart_count', 'exit_code', 'signal', 'run_id', 'process_start_ticks', 'boot_id', 'host',
  'next_restart_at', 'timeout_warnings', 'last_exit_at', 'stop_reason', 'timestamp', 'progress_pct', 'message',
  // zod drops a "__proto__" key on purpose (no prototype pollution): tested on its own in parsers.test.js.
  '__proto__',
]);

/** A field name the contract does not use. */
export const unknownKey = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((k) => !KNOWN_KEYS.has(k));

/** Any JSON value, a few levels deep, with unicode strings. */
export const anyJson = fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' }).map((v) => JSON.parse(JSON.stringify(v)));

/** Unknown fields: they must survive every parse and rewrite. */
export const extraFields = fc.dictionary(unknownKey, anyJson, { maxKeys: 3, noNullPrototype: true });

export const isoTimestamp = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

/** Any text, including unicode, controls, NUL and shell metacharacters. */
export const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('$(touch x); rm -rf y', '`id`', "'\"\\", 'a\0b', '\u2028\u2029', '{worker_id}{description}', '--help', '-rf'),
);

/** @template {object} T @param {fc.Arbitrary<T>} base */
const withExtras = (base) => fc.tuple(base, extraFields).map(([b, extra]) => ({ .../** @type {Record<string, unknown>} */ (extra), .../** @type {object} */ (b) }));

export const executionBlock = withExtras(
  fc.record(
    {
      started_at: fc.option(isoTimestamp),
      completed_at: fc.option(isoTimestamp),
      pid: fc.option(fc.integer({ min: 1, max: 4_000_000 })),
      restart_count: fc.nat({ max: 50 }),
      exit_code: fc.option(fc.integer({ min: -1, max: 255 })),
      signal: fc.option(fc.constantFrom('SIGTERM', 'SIGKILL')),
      run_id: fc.option(fc.string({ maxLength: 20 })),
      timeout_warnings: fc.array(fc.constantFrom(50, 75, 90), { maxLength: 3 }),
    },
    { requiredKeys: [] },
  ),
);

/** A valid worker spec for the given id (and type), with unknown fields at the top, in `task` and in `execution`. */
/** @param {fc.Arbitrary<string>} [idArb] @param {fc.Arbitrary<string>} [typeArb] */
export const validSpec = (idArb = validId, typeArb = fc.constantFrom('implementation', 'review')) =>
  withExtras(
    fc.record(
      {
        worker_id: idArb,
        worker_type: typeArb,
        task_id: fc.option(validId),
        status: fc.constantFrom('pending', 'running', 'completed', 'failed'),
        created_at: isoTimestamp,
        task: withExtras(fc.record({ description: anyText })),
        execution: executionBlock,
        error: fc.option(fc.string({ maxLength: 40 })),
      },
      { requiredKeys: ['worker_id', 'worker_type', 'task_id', 'status', 'created_at', 'task'] },
    ),
  );

export const validTask = withExtras(
  fc.record(
    {
      task_id: validId,
      description: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
      priority: fc.constantFrom('critical', 'high', 'medium', 'low'),
      worker_type: fc.constantFrom('implementation', 'review'),
      status: fc.constantFrom('queued', 'assigned', 'completed', 'failed', 'cancelled'),
      created_at: isoTimestamp,
      metadata: fc.dictionary(unknownKey, anyJson, { maxKeys: 3, noNullPrototype: true }),
      worker_id: fc.option(validId),
      assigned_at: fc.option(isoTimestamp),
      completed_at: fc.option(isoTimestamp),
      error: fc.option(fc.string({ maxLength: 40 })),
    },
    { requiredKeys: ['task_id', 'description', 'priority', 'worker_type', 'status', 'created_at', 'metadata'] },
  ),
);

export const validQueue = withExtras(fc.record({ tasks: fc.array(validTask, { maxLength: 5 }) }));

export const validCheckin = (idArb = validId) =>
  withExtras(
    fc.record(
      {
        worker_id: idArb,
        timestamp: isoTimestamp,
        status: fc.constantFrom('starting', 'in_progress', 'blocked', 'completed', 'failed'),
        progress_pct: fc.double({ min: 0, max: 100, noNaN: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
        message: fc.option(fc.string({ unit: 'grapheme', maxLength: 40 })),
        run_id: fc.option(fc.string({ maxLength: 20 })),
      },
      { requiredKeys: ['worker_id', 'timestamp', 'status', 'progress_pct'] },
    ),
  );

const workerTypeEntry = fc.record(
  {
    description: fc.string({ maxLength: 20 }),
    command: fc.array(fc.string({ unit: 'grapheme', maxLength: 12 }), { minLength: 1, maxLength: 4 }),
    env: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2, noNullPrototype: true }),
    time_limit_seconds: fc.nat({ max: 10_000 }),
    checkin_timeout_seconds: fc.double({ min: 0, max: 1e4, noNaN: true }),
    max_restarts: fc.nat({ max: 10 }),
    restart_backoff_seconds: fc.nat({ max: 300 }),
    log_max_bytes: fc.integer({ min: 1, max: 1e9 }),
  },
  { requiredKeys: ['command'] },
);

export const typeName = fc
  .tuple(fc.constantFrom(...ALNUM), fc.array(fc.constantFrom(...ID_BODY), { maxLength: 20 }))
  .map(([a, rest]) => a + rest.join(''));

export const validWorkerTypes = fc.record({ worker_types: fc.dictionary(typeName, workerTypeEntry, { minKeys: 1, maxKeys: 4, noNullPrototype: true }) });

export const validDaemonConfig = fc.record(
  {
    loop_interval_seconds: fc.double({ min: 0.01, max: 3600, noNaN: true }),
    max_concurrent_workers: fc.nat({ max: 1000 }),
    debounce_ms: fc.nat({ max: 1000 }),
    mass_action_min: fc.integer({ min: 1, max: 100 }),
    log_level: fc.constantFrom('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    alerts: fc.record({ zombie_threshold: fc.integer({ min: 1, max: 100 }), failure_rate_threshold: fc.double({ min: 0, max: 1, noNaN: true }) }, { requiredKeys: [] }),
    metrics: fc.record({ enabled: fc.boolean(), port: fc.integer({ min: 0, max: 65535 }), host: fc.constantFrom('127.0.0.1', '::1', 'localhost') }, { requiredKeys: [] }),
    demo: fc.boolean(),
  },
  { requiredKeys: [] },
);

/** `depth` nested arrays around `inner`, built without recursion. */
export const nested = (depth, inner = '0') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;

/**
 * Breaks a valid document so that it can no longer validate: a proper prefix of its JSON (always invalid,
 * since the text ends with its closing brace), a required field removed or given a wrong type, or the
 * whole document replaced by a non-object. `required` lists the top-level fields the schema needs.
 */
export const breakDocument = (doc, required, wrongValues) =>
  fc.oneof(
    fc.nat().map((n) => {
      const text = JSON.stringify(doc);
      return { how: 'truncated', text: text.slice(0, n % text.length) };
    }),
    fc.constantFrom(...required).map((key) => {
      const copy = { ...doc };
      delete copy[key];
      return { how: `missing ${key}`, text: JSON.stringify(copy) };
    }),
    fc.tuple(fc.constantFrom(...Object.keys(wrongValues)), fc.nat()).map(([key, i]) => {
      const choices = wrongValues[key];
      return { how: `wrong ${key}`, text: JSON.stringify({ ...doc, [key]: choices[i % choices.length] }) };
    }),
    fc.constantFrom('[]', '42', 'null', '"spec"', 'true', '', ' ', '\0', '{', '}', '{"a":1}{"b":2}', '\uFEFF{}').map((text) => ({ how: 'not an object', text })),
    fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ how: 'random text', text: `#${text}` })),
  );

/** Wrong-typed values for a spec's required fields (each makes the spec invalid). */
export const SPEC_WRONG = {
  worker_id: [42, null, '', '../x', 'a/b', 'x'.repeat(129), ['w']],
  worker_type: ['', 7, null, {}],
  task_id: ['../x', 'a/b', 3, {}, 'a..b'],
  status: ['done', 'RUNNING', 1, null, ''],
  created_at: ['yesterday', 0, null, '2024-13-45T99:00:00Z', ''],
  task: ['do it', null, [], { description: 5 }, {}],
  execution: ['x', 3, [], { pid: -1 }, { pid: 'one' }, { restart_count: -1 }, { started_at: 'soon' }],
  error: [5, {}, []],
};

export const SPEC_REQUIRED = ['worker_id', 'worker_type', 'task_id', 'status', 'created_at', 'task'];

export const CHECKIN_WRONG = {
  worker_id: [1, null, '../x', ''],
  timestamp: ['now', 0, null],
  status: ['sleeping', 2, null],
  progress_pct: [-1, 101, '50', null, 200, -0.5],
  message: [5, {}, []],
};

export const CHECKIN_REQUIRED = ['worker_id', 'timestamp', 'status', 'progress_pct'];
