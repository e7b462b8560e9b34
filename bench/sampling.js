// Benchmark: the daemon's resource sampling (src/process/usage.ts UsageSampler, issue 13): one pass over
// /proc finds every process of every running worker by its run token and reads its CPU time and resident
// set. It runs every `resource_sample_seconds` (default 5), so its cost over that interval is the share of
// a core the daemon spends on it.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { benchEnv, DIST, figure, groupMembers, sleep, summarize, waitFor } from './lib/common.js';

export const name = 'sampling';
export const title = 'Resource sampling: every running worker\'s CPU and memory, by its run token';

export const method = [
  'N fake runs, each a detached `sh -c "sleep 600 & wait"` (2 processes) carrying COMMIT_RELAY_RUN_ID=bench-run-<i>, like a worker\'s shim and its program. One UsageSampler samples all N runs K times, 200 ms apart, as the daemon does every resource_sample_seconds.',
  'The first sample reads every process\'s environment once (a process\'s token is read once and remembered by pid and start ticks); the later ones read /proc/PID/stat of every process on the machine, through an fd kept open per process (one pread at offset 0; a stranger\'s line is not parsed), and nothing else (a process\'s command is read only when an event names it). Wall time from performance.now(), CPU from process.cpuUsage(); p50 over the samples after the first.',
  'Share of a core: the p50 CPU of one sample over the default 5 s interval.',
];

async function startRuns(count) {
  const leaders = [];
  for (let i = 0; i < count; i += 1) {
    const child = spawn('sh', ['-c', 'sleep 600 & wait'], { detached: true, stdio: 'ignore', env: benchEnv({ COMMIT_RELAY_RUN_ID: `bench-run-${i}` }) });
    child.unref();
    leaders.push(child.pid);
  }
  await waitFor(() => leaders.every((pid) => groupMembers(pid).length === 2), { what: `${count} runs of 2 processes`, timeoutMs: 60_000, intervalMs: 100 });
  return leaders;
}

function stopRuns(leaders) {
  for (const pid of leaders) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export async function run({ quick, log }) {
  const { UsageSampler } = await import(join(DIST, 'process', 'usage.js'));
  const sizes = quick ? [50, 200] : [100, 500, 1000];
  const samples = quick ? 8 : 20;
  const figures = [];
  const details = { samples, sizes: {} };
  for (const size of sizes) {
    const leaders = await startRuns(size);
    try {
      await sleep(300);
      const runs = new Set(Array.from({ length: size }, (_, i) => `bench-run-${i}`));
      const processes = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).length;
      const sampler = new UsageSampler();
      const wall = [];
      const cpu = [];
      let found = 0;
      for (let i = 0; i <= samples; i += 1) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        found = sampler.sample(runs).size;
        wall.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
        await sleep(200);
      }
      sampler.close();
      const first = { wall_ms: wall.shift(), cpu_ms: cpu.shift() };
      const result = { processes_on_machine: processes, runs_found: found, first, wall_ms: summarize(wall, 2), cpu_ms: summarize(cpu, 2) };
      details.sizes[size] = result;
      const share = Math.round((result.cpu_ms.p50 / 5000) * 10000) / 100;
      log(`${size} runs (${processes} processes on the machine): first sample ${result.first.wall_ms.toFixed(1)} ms, then p50 ${result.wall_ms.p50} ms wall, ${result.cpu_ms.p50} ms CPU (${share} % of a core every 5 s); found ${found}`);
      figures.push(figure(`runs${size}_sample_p50_ms`, `${size} runs, ${processes} processes on the machine: one sample (wall p50)`, result.wall_ms.p50, 'ms'));
      figures.push(figure(`runs${size}_core_share_pct`, `${size} runs: share of a core at one sample every 5 s (CPU p50 / 5 s)`, share, '%'));
      figures.push(figure(`runs${size}_found`, `${size} runs: runs found`, found, 'runs'));
    } finally {
      stopRuns(leaders);
    }
  }
  return { figures, details };
}
