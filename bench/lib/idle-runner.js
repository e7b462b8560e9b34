// A daemon in-process, watching and ticking as pm-daemon does, over N live workers (real `sleep` processes carrying
// their run tokens, recorded as the spawner records them) while a separate process rewrites check-in files at
// N/60 a second (each worker every 60 s, spread out): the daemon's CPU over a window. With --profile, a V8 profile.
// Usage: node bench/lib/idle-runner.js '{"n":1000,"seconds":20,"profile":false}'
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { benchEnv, bootId, cleanupAll, inProcessDaemon, installExitHandlers, makeHome, makeSpec, procStartTicks, RESULTS, round, sleep, writeJsonAtomic } from './common.js';
import { summarizeProfile } from './profile.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const { n = 1000, seconds = 20, profile = false } = cfg;
installExitHandlers();

const TYPE = 'bench';
const { paths } = await makeHome(`idle-${n}`, {
  [TYPE]: { command: ['sleep', '3600'], time_limit_seconds: 0, checkin_interval_seconds: 60, checkin_timeout_seconds: 600, stall_timeout_seconds: 1200, startup_grace_seconds: 600, max_restarts: 5 },
});
const boot = bootId();
const now = Date.now();
const iso = (ms) => new Date(ms).toISOString();
const ids = Array.from({ length: n }, (_, i) => `bench-idle-${String(i).padStart(5, '0')}`);
const out = execFileSync('sh', ['-c', `i=0; while [ $i -lt ${n} ]; do COMMIT_RELAY_RUN_ID=run-bench-$i sleep 3600 </dev/null >/dev/null 2>&1 & echo $!; i=$((i+1)); done`], { env: benchEnv(), encoding: 'utf8' });
const sleepers = out.trim().split('\n').map(Number);
for (const [i, id] of ids.entries()) {
  const pid = sleepers[i];
  writeJsonAtomic(paths.specFile('active', id), makeSpec({ id, type: TYPE, status: 'running', createdAt: iso(now - 600_000), execution: { started_at: iso(now - 300_000), pid, process_start_ticks: procStartTicks(pid), boot_id: boot, host: 'bench', run_id: `run-bench-${i}`, restart_count: 0, timeout_warnings: [] } }));
  writeJsonAtomic(paths.checkinFile(id), { worker_id: id, timestamp: iso(now - 1000), status: 'in_progress', progress_pct: 10, message: 'step', run_id: `run-bench-${i}` });
}
// The check-in writer: each worker every 60 s, in turn.
const writer = spawn(process.execPath, ['-e', `
const fs = require('fs'); const [dir, n] = [process.argv[1], Number(process.argv[2])]; let i = 0;
setInterval(() => { const k = i++ % n; const id = 'bench-idle-' + String(k).padStart(5, '0'); const f = dir + '/' + id + '.json';
fs.writeFileSync(f + '.tmp', JSON.stringify({ worker_id: id, timestamp: new Date().toISOString(), status: 'in_progress', progress_pct: 10 + (i % 80), message: 'step', run_id: 'run-bench-' + k }) + '\\n');
fs.renameSync(f + '.tmp', f); }, 60000 / n);`, paths.checkins, String(n)], { stdio: 'ignore' });

let passes = 0;
const { daemon, flush } = await inProcessDaemon(paths, { maxConcurrentWorkers: n }, () => (passes += 1));
let result;
try {
  await daemon.start();
  await sleep(6000);
  let session;
  if (profile) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  const p0 = passes;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - t0;
  let top;
  if (session) {
    const { profile: data } = await session.post('Profiler.stop');
    mkdirSync(join(RESULTS, 'profiles'), { recursive: true });
    const file = join(RESULTS, 'profiles', `idle-${n}.cpuprofile`);
    writeFileSync(file, JSON.stringify(data));
    top = { file, top: summarizeProfile(data, 25) };
  }
  result = { n, seconds: round(ms / 1000, 1), cpu_pct: round(((cpu.user + cpu.system) / 1000 / ms) * 100, 2), passes: passes - p0, rss_mb: round(process.memoryUsage().rss / 2 ** 20), profile: top };
  await daemon.stop('bench');
  flush();
} finally {
  writer.kill('SIGKILL');
  for (const pid of sleepers) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  cleanupAll();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
