// The worker-log guard alone (src/daemon/logs.ts, WorkerLogGuard), outside the runner: N idle worker logs guarded
// (one inotify watch each), its CPU while they stay idle and the cost of sync() per pass, then one writer flooding
// one of them for 3 s (`sh`: a shell loop of echo, 15-20 MB/s; `yes`: about 1 GB/s) with the sizes of output.log +
// output.log.1 sampled every millisecond or so. Not a test, not in `npm run bench` (a `yes` flood is a CPU hog).
//
//   npm run build && node bench/log-guard.js [N=1000] [log_max_bytes=65536] [sh|yes]
import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { WorkerLogGuard } from '../dist/daemon/logs.js';
import { homePaths } from '../dist/store/home.js';
import { systemClock } from '../dist/core/clock.js';
const home = mkdtempSync(join(tmpdir(), 'relay-log-guard-'));
const paths = homePaths(home);
const N = Number(process.argv[2] ?? 1000), MAX = Number(process.argv[3] ?? 65536);
const workers = [];
for (let i = 0; i < N; i++) {
  const id = `w-${i}`;
  mkdirSync(paths.workerLogDir(id), { recursive: true });
  writeFileSync(join(paths.workerLogDir(id), 'output.log'), '=== header\n');
  workers.push({ spec: { worker_id: id, status: 'running', worker_type: 't' } });
}
const types = { types: { t: { log_max_bytes: MAX } } };
const logger = { info() {}, warn() {}, debug() {} };
const guard = new WorkerLogGuard(paths, systemClock(), logger);
guard.start();
const fc = process.cpuUsage(); guard.sync(workers, types); const fcu = process.cpuUsage(fc); const firstSync = (fcu.user + fcu.system) / 1000;
await new Promise((r) => setTimeout(r, 1500));
console.log('after first sync', guard.counts(), `first sync (arms ${N} watches) ${firstSync.toFixed(1)} ms`);
const sc = process.cpuUsage(); for (let i = 0; i < 100; i++) guard.sync(workers, types); const scu = process.cpuUsage(sc); const syncMs = (scu.user + scu.system) / 1000 / 100;
const cpu0 = process.cpuUsage(); const w0 = performance.now();
await new Promise((r) => setTimeout(r, 10_000));
const c = process.cpuUsage(cpu0); const wall = performance.now() - w0;
console.log(`idle ${N} logs: CPU ${((c.user + c.system) / 1000).toFixed(1)} ms over ${(wall / 1000).toFixed(1)} s = ${((c.user + c.system) / 10 / wall).toFixed(3)} % core; sync() with ${N} workers: ${syncMs.toFixed(3)} ms`);
// One flooding writer (argv[4]: 'yes' or 'sh'), appending to w-0's log.
const kind = process.argv[4] ?? 'sh';
const log = join(paths.workerLogDir('w-0'), 'output.log');
const script = kind === 'yes' ? `exec yes >> '${log}'` : `i=0; while :; do i=$((i+1)); echo "flood $i: the quick brown fox jumps over the lazy dog, again and again and again"; done >> '${log}'`;
const flood = spawn('sh', ['-c', script], { stdio: 'ignore' });
const size = (f) => { try { return lstatSync(f).size; } catch { return 0; } };
let worst = 0, n = 0; const cpu1 = process.cpuUsage(); const w1 = performance.now();
const sampler = setInterval(() => { worst = Math.max(worst, size(log) + size(`${log}.1`)); n++; }, 1);
await new Promise((r) => setTimeout(r, 3000));
clearInterval(sampler); flood.kill('SIGKILL');
const c1 = process.cpuUsage(cpu1); const wall1 = performance.now() - w1;
console.log(`flood (${kind}) 3 s, max ${MAX}: worst output.log + .1 = ${worst} (${(worst / MAX).toFixed(2)} x) over ${n} samples; this process (guard + sampler) CPU ${((c1.user + c1.system) / 10 / wall1).toFixed(1)} % core; .1 = ${size(`${log}.1`)}`);
guard.close();
console.log('after close', guard.counts());
rmSync(home, { recursive: true, force: true });
