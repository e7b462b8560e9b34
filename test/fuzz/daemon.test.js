// End to end: a real daemon on a home strewn with generated bad files keeps running, reports each bad spec
// once, leaves every bad file as it was, and keeps supervising the valid workers to completion.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { SPEC_REQUIRED, SPEC_WRONG, anyText, badFileNameId, breakDocument, fcOptions, nested, validCheckin, validId, validSpec } from './arbitraries.js';
import { events, morePasses, stopDaemon } from '../helpers/daemon.js';
import { FIXTURES, readJson, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { specPath } from '../helpers/specs.js';

const TYPES = { quick: { command: ['sh', join(FIXTURES, 'exit-with.sh'), '0', '0.3'], stop_grace_seconds: 1, startup_grace_seconds: 0 } };

/** One bad thing to put in worker-specs/active/: a name and what the file is. */
const badSpec = fc.oneof(
  // A valid id, broken content (truncated, a field missing or of the wrong type, not an object, random bytes).
  { weight: 6, arbitrary: validId.map((id) => `bad-${id}`).chain((name) => validSpec(fc.constant(name), fc.constant('quick')).chain((doc) => breakDocument(doc, SPEC_REQUIRED, SPEC_WRONG)).map((b) => ({ name, kind: 'text', text: b.text, how: b.how }))) },
  // A name that is not a valid id, holding an otherwise good spec that names itself.
  { weight: 2, arbitrary: badFileNameId.chain((name) => validSpec(fc.constant(name), fc.constant('quick')).map((doc) => ({ name, kind: 'text', text: JSON.stringify({ ...doc, status: 'pending' }), how: 'bad id' }))) },
  // A good spec of a type worker-types.json does not define.
  { weight: 1, arbitrary: validId.map((id) => `type-${id}`).chain((name) => validSpec(fc.constant(name), fc.constant('no-such-type')).map((doc) => ({ name, kind: 'text', text: JSON.stringify({ ...doc, status: 'pending' }), how: 'unknown type' }))) },
  // Things that are not regular files, and a file too big to read.
  { weight: 2, arbitrary: validId.map((id) => `odd-${id}`).chain((name) => fc.constantFrom('symlink', 'fifo', 'dir', 'huge', 'megabyte').map((kind) => ({ name, kind, how: kind }))) },
);

const badCheckin = fc.record({
  text: fc.oneof(anyText, validCheckin().map((c) => JSON.stringify(c)), fc.constant('{"worker_id":'), fc.constant(nested(50_000))),
  orphanName: validId.map((id) => `orphan-${id}`),
});

const goodSpec = (name, description) => ({
  worker_id: name,
  worker_type: 'quick',
  task_id: null,
  status: 'pending',
  created_at: new Date().toISOString(),
  task: { description, note: { kept: true } },
  operator_field: ['survives'],
});

/** Puts a bad spec in place and returns how to check it is untouched later. */
function placeBadSpec(home, bad) {
  const file = specPath(home, 'active', bad.name);
  // Files appear whole, as every writer of specs writes them (temp file, then rename): a daemon that read a
  // file half-written would rightly report each version it saw.
  const place = (content) => {
    const temp = join(dirname(file), `.${bad.name}.tmp`);
    writeFileSync(temp, content);
    renameSync(temp, file);
  };
  if (bad.kind === 'text') place(bad.text);
  else if (bad.kind === 'huge') place(Buffer.alloc(9 * 1024 * 1024, 0x20));
  else if (bad.kind === 'megabyte') place(`{"worker_id":"${bad.name}","task":{"description":"${'x'.repeat(1024 * 1024)}"`);
  else if (bad.kind === 'dir') mkdirSync(file);
  else if (bad.kind === 'fifo') execFileSync('mkfifo', [file]);
  else if (bad.kind === 'symlink') {
    // Outside the home's coordination/: a spec that would start if the link were followed.
    const target = join(home, 'outside', `${bad.name}.json`);
    mkdirSync(join(home, 'outside'), { recursive: true });
    writeFileSync(target, JSON.stringify(goodSpec(bad.name, 'must never run')));
    symlinkSync(target, file);
  }
  return fingerprint(file);
}

function fingerprint(file) {
  const st = lstatSync(file);
  if (st.isSymbolicLink()) {
    const target = readlinkSync(file);
    const tst = statSync(target);
    return { file, type: 'symlink', target, content: readFileSync(target), mtimeMs: tst.mtimeMs };
  }
  if (st.isFile()) return { file, type: 'file', content: readFileSync(file), mtimeMs: st.mtimeMs };
  return { file, type: st.isFIFO() ? 'fifo' : 'dir', mtimeMs: st.mtimeMs };
}

function assertUntouched(before) {
  const after = fingerprint(before.file);
  assert.equal(after.type, before.type, `${before.file} changed type`);
  if (before.content !== undefined) assert.ok(after.content?.equals(before.content), `${before.file} content changed`);
  assert.equal(after.mtimeMs, before.mtimeMs, `${before.file} mtime changed`);
  if (before.type === 'symlink') assert.equal(after.target, before.target);
}


test('a daemon among generated bad files: keeps running, reports each bad spec once, touches none, runs the good ones', async () => {
  const scenario = fc.record({
    bad: fc.uniqueArray(badSpec, { minLength: 4, maxLength: 10, selector: (b) => b.name }),
    checkins: fc.array(badCheckin, { minLength: 2, maxLength: 5 }),
    goodCount: fc.integer({ min: 2, max: 4 }),
    description: anyText,
  });
  await fc.assert(
    fc.asyncProperty(scenario, ({ bad, checkins, goodCount, description }) => withHome({ types: TYPES }, async ({ home, startDaemon }) => {
      const coordination = join(home, 'coordination');
      for (const dir of ['worker-specs/active', 'worker-checkins']) mkdirSync(join(coordination, dir), { recursive: true });

      const good = Array.from({ length: goodCount }, (_, i) => `good-${i}`);
      for (const name of good) writeFileSync(specPath(home, 'active', name), JSON.stringify(goodSpec(name, description.replace(/\0/g, ''))));
      // Every run also carries a spec that only its depth makes bad (valid if nesting were unlimited).
      const deep = { name: 'deep-nest', kind: 'text', how: 'nested 5000 deep', text: JSON.stringify({ ...goodSpec('deep-nest', 'deep'), extra: 0 }).replace('"extra":0', `"extra":${nested(5000)}`) };
      const allBad = [...bad, deep];
      const half = Math.ceil(allBad.length / 2);
      const prints = new Map();
      for (const b of allBad.slice(0, half)) prints.set(b.name, placeBadSpec(home, b));

      // Bad check-ins: garbage for the good workers, a link out of the home, and files for workers that do not exist.
      const checkinFile = (name) => join(coordination, 'worker-checkins', `${name}.json`);
      const checkinPrints = [];
      checkins.forEach((c, i) => {
        const forGood = good[i % good.length];
        if (i === 0) {
          const outside = join(home, 'outside-checkin.json');
          writeFileSync(outside, JSON.stringify({ worker_id: forGood, timestamp: new Date().toISOString(), status: 'in_progress', progress_pct: 42 }));
          symlinkSync(outside, checkinFile(forGood));
          checkinPrints.push(fingerprint(checkinFile(forGood)));
        } else if (!existsSync(checkinFile(forGood))) {
          writeFileSync(checkinFile(forGood), c.text);
          checkinPrints.push(fingerprint(checkinFile(forGood)));
        }
        writeFileSync(checkinFile(c.orphanName), c.text);
        checkinPrints.push(fingerprint(checkinFile(c.orphanName)));
      });

      const daemon = await startDaemon({ env: { WORKER_CONCURRENCY: '8', PM_LOOP_INTERVAL: '0.25' } });
      // The rest arrive while it runs (the watcher path, not only the first pass).
      for (const b of allBad.slice(half)) prints.set(b.name, placeBadSpec(home, b));

      await waitFor(() => good.every((name) => existsSync(specPath(home, 'completed', name))), { what: 'the good workers to complete', timeoutMs: 20_000 });
      await morePasses(home, 3, { timeoutMs: 10_000 });

      assert.equal(daemon.child.exitCode, null, `the daemon is still running: ${daemon.stderr()}`);
      assert.equal(daemon.child.signalCode, null);
      const all = events(home);
      for (const name of good) {
        const spec = readJson(specPath(home, 'completed', name));
        assert.equal(spec.status, 'completed');
        assert.deepEqual(spec.operator_field, ['survives'], 'unknown fields survive the daemon');
        assert.deepEqual(spec.task.note, { kept: true });
      }
      for (const b of allBad) {
        const file = specPath(home, 'active', b.name);
        const reports = all.filter((e) => e.event === 'spec_invalid' && e.data?.file === file);
        assert.equal(reports.length, 1, `${b.how} ${JSON.stringify(b.name)}: reported ${reports.length} times, expected once`);
        assert.equal(typeof reports[0].data.reason, 'string');
        assert.ok(reports[0].data.reason.length > 0);
        assertUntouched(prints.get(b.name));
        assert.equal(all.filter((e) => e.event === 'worker_started' && e.worker_id === b.name).length, 0, `${b.how} ${JSON.stringify(b.name)} was started`);
      }
      for (const print of checkinPrints) assertUntouched(print);
      assert.equal(all.filter((e) => e.event === 'spec_invalid' && good.includes(e.worker_id)).length, 0);
      const result = await stopDaemon(daemon);
      assert.equal(result.code, 0, result.stderr());
    })),
    fcOptions(3, { endOnFailure: true }, 1 / 50),
  );
});
