// Resource sampling keeps to a share of a core: a costly sample (a big fleet's) stretches the interval, up to a bound;
// a cheap one keeps resource_sample_seconds. The sample's cost is read from an injected CPU clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResourceSampling, SAMPLE_MAX_STRETCH, SAMPLE_SHARE } from '../../dist/daemon/resources.js';

/** A running worker as the observer hands it on (its run matches no process here: the sample finds nothing). */
const worker = (/** @type {string} */ id) => /** @type {any} */ ({
  spec: { worker_id: id, execution: { run_id: `run-pacing-test-${id}-${process.pid}` } },
  view: { workerId: id, workerType: 't', status: 'running', process: 'alive' },
});

test('a sample costing more than its share of a core waits longer, at most SAMPLE_MAX_STRETCH intervals; a cheap one keeps the interval', () => {
  let cost = 1;
  let cpu = 0;
  let reads = 0;
  // Each read moves the CPU clock on by `cost`: a sample (two reads) costs `cost`.
  const cpuNow = () => {
    reads += 1;
    cpu += cost;
    return cpu;
  };
  const sampling = new ResourceSampling(10_000, 5_000, cpuNow);
  const workers = [worker('w1')];
  /** Passes every 5 s (the tick) from `from` to `to` (ms): the times a sample was taken. */
  const passes = (/** @type {number} */ from, /** @type {number} */ to) => {
    const at = [];
    for (let now = from; now <= to; now += 5000) {
      const before = reads;
      sampling.sampleIfDue(workers, now, Date.now());
      if (reads > before) at.push(now);
    }
    return at;
  };
  assert.deepEqual(passes(0, 30_000), [0, 10_000, 20_000, 30_000], 'at 1 ms a sample: every 10 s');
  assert.equal(sampling.effectiveIntervalMs(), 10_000);
  // 150 ms a sample: at 0.5 % of a core, one per 30 s (the average climbs over a few samples).
  cost = 150;
  const costly = passes(35_000, 400_000);
  const gaps = costly.slice(1).map((t, i) => t - (costly[i] ?? 0));
  assert.ok(gaps.every((g, i) => i === 0 || g >= (gaps[i - 1] ?? 0)), `the gaps grow: ${gaps}`);
  assert.equal(gaps.at(-1), 30_000, `then one per 150 / ${SAMPLE_SHARE} ms: ${gaps}`);
  // 1 s a sample: capped.
  cost = 1000;
  const capped = passes(405_000, 1_400_000);
  assert.equal(sampling.effectiveIntervalMs(), 10_000 * SAMPLE_MAX_STRETCH);
  assert.equal((capped.at(-1) ?? 0) - (capped.at(-2) ?? 0), 60_000);
  // Cheap again: back to the interval.
  cost = 1;
  const cheap = passes(1_405_000, 2_000_000);
  assert.equal((cheap.at(-1) ?? 0) - (cheap.at(-2) ?? 0), 10_000);
});
