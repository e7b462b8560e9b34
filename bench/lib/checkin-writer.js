// A cheap check-in load generator for bench/checkins.js: writes check-ins for the given workers, round
// robin, at a target rate, each exactly as checkin.sh writes it (temp file in the same folder, then
// rename), with the run id from the worker's spec. Runs in its own process so that it never shares an
// event loop with the daemon. Usage:
//   node bench/lib/checkin-writer.js '{"checkins":"<dir>","workers":[["id","run"],...],"rate":1000,"seconds":6}'
// Prints {"written":{"id":n,...},"last":{"id":"timestamp",...},"seconds":s} on stdout.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const { checkins, workers, rate, seconds } = JSON.parse(process.argv[2]);
const written = Object.fromEntries(workers.map(([id]) => [id, 0]));
const last = {};
const tickMs = 10;
const started = performance.now();
let total = 0;
let next = 0;

function writeOne() {
  const [id, runId] = workers[next];
  next = (next + 1) % workers.length;
  const ts = new Date().toISOString();
  // Never two check-ins of one worker with the same timestamp: the daemon takes an equal one for the same check-in.
  if (last[id] === ts) return false;
  const n = written[id] + 1;
  const file = join(checkins, `${id}.json`);
  const temp = `${file}.tmp-${process.pid}`;
  writeFileSync(temp, `${JSON.stringify({ worker_id: id, timestamp: ts, status: 'in_progress', progress_pct: n % 100, message: String(n), run_id: runId })}\n`);
  renameSync(temp, file);
  written[id] = n;
  last[id] = ts;
  total += 1;
  return true;
}

await new Promise((resolve) => {
  const timer = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000;
    if (elapsed >= seconds) {
      clearInterval(timer);
      resolve();
      return;
    }
    const due = Math.floor(elapsed * rate);
    let guard = 0;
    while (total < due && guard < workers.length) {
      writeOne();
      guard += 1;
    }
  }, tickMs);
});
process.stdout.write(`${JSON.stringify({ written, last, seconds: (performance.now() - started) / 1000, total })}\n`);
