// Benchmark 1: the cost of one daemon pass over N active specs, cold and steady.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { below, benchEnv, figure, ROOT, round } from './lib/common.js';

export const name = 'pass';
export const title = 'One daemon pass over N active specs';

export const method = [
  'Each scenario runs in a fresh node process (bench/lib/pass-runner.js) that builds a temp home, then runs the Daemon class in-process with the real file logger and pass hooks (alerts), as pm-daemon does, but without the watcher or timers.',
  'Cold: Daemon.start({watch:false}) (claims the home, scans for orphans, makes the first pass, which reads and parses every spec and check-in). Steady: then runPass() again and again with the files unchanged, so the observer answers from its (inode, size, mtime) cache.',
  'Wall time from performance.now() and CPU time (user + system, all threads) from process.cpuUsage() around each call; the figures are the median (p50) and p90 of the steady passes.',
  '"pending": N specs in backoff (restart_count 1, next_restart_at a day away, an old check-in each) with max_concurrent_workers 0: every pass assesses all N and decides nothing. "live": N running specs whose recorded processes are real `sleep` processes (pid, start ticks, boot id recorded), each with a fresh check-in: N healthy workers, so every pass checks N identities in /proc. "live+churn": the same with 100 check-in files rewritten before each pass (outside the timed window). Every steady pass is checked to take no action.',
  'Run with --profile to write V8 CPU profiles of the cold and steady passes to bench/results/profiles/ with their top self-time functions.',
];

function runScenario(cfg, profile) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(ROOT, 'bench', 'lib', 'pass-runner.js'), JSON.stringify({ ...cfg, profile })], { env: benchEnv(), maxBuffer: 64 << 20, timeout: 300_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`pass-runner ${JSON.stringify(cfg)} failed: ${error.message}\n${stderr}`));
      const line = stdout.trim().split('\n').pop();
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`pass-runner ${JSON.stringify(cfg)} printed no result: ${stdout}\n${stderr}`));
      }
    });
  });
}

export async function run({ quick, profile, log }) {
  const scenarios = quick
    ? [
        { kind: 'pending', n: 100, passes: 10 },
        { kind: 'pending', n: 1000, passes: 10 },
        { kind: 'pending', n: 10000, passes: 2 },
        { kind: 'live', n: 1000, passes: 10 },
      ]
    : [
        { kind: 'pending', n: 100, passes: 30 },
        { kind: 'pending', n: 1000, passes: 30 },
        { kind: 'pending', n: 10000, passes: 10 },
        { kind: 'live', n: 1000, passes: 20 },
        { kind: 'live', n: 1000, passes: 20, churn: 100 },
      ];
  const results = [];
  for (const cfg of scenarios) {
    log(`pass: ${cfg.kind} N=${cfg.n}${cfg.churn ? ` churn=${cfg.churn}` : ''}, ${cfg.passes} steady passes`);
    const r = await runScenario(cfg, profile);
    results.push(r);
    log(`  cold ${r.cold.wall_ms} ms wall / ${r.cold.cpu_ms} ms CPU; steady p50 ${r.steady.wall_ms.p50} ms wall / ${r.steady.cpu_ms.p50} ms CPU (p90 ${r.steady.cpu_ms.p90})`);
    if (r.steady.actions !== 0) throw new Error(`steady passes of ${cfg.kind} N=${cfg.n} took ${r.steady.actions} actions: not a steady state`);
  }
  const figures = [];
  for (const r of results) {
    const label = `${r.kind}${r.churn ? `+churn${r.churn}` : ''} N=${r.n}`;
    const key = `${r.kind}${r.churn ? `_churn${r.churn}` : ''}_${r.n}`;
    const goal = r.n === 1000 ? below(100, 'ms') : undefined;
    figures.push(figure(`${key}_cold_cpu_ms`, `${label}: cold pass CPU (wall ${r.cold.wall_ms} ms)`, r.cold.cpu_ms, 'ms'));
    figures.push(figure(`${key}_steady_cpu_p50_ms`, `${label}: steady pass CPU p50 (p90 ${r.steady.cpu_ms.p90}; wall p50 ${r.steady.wall_ms.p50})`, r.steady.cpu_ms.p50, 'ms', goal));
    figures.push(figure(`${key}_steady_cpu_per_spec_us`, `${label}: steady CPU per spec`, round((r.steady.cpu_ms.p50 * 1000) / r.n), 'µs'));
  }
  const pending = Object.fromEntries(results.filter((r) => r.kind === 'pending' && !r.churn).map((r) => [r.n, r]));
  const growth = {};
  if (pending[1000] && pending[10000]) growth.pending_1k_to_10k_steady_cpu = round(pending[10000].steady.cpu_ms.p50 / pending[1000].steady.cpu_ms.p50, 2);
  if (pending[100] && pending[1000]) growth.pending_100_to_1k_steady_cpu = round(pending[1000].steady.cpu_ms.p50 / pending[100].steady.cpu_ms.p50, 2);
  if (pending[1000] && pending[10000]) growth.pending_1k_to_10k_cold_cpu = round(pending[10000].cold.cpu_ms / pending[1000].cold.cpu_ms, 2);
  for (const [k, v] of Object.entries(growth)) figures.push(figure(`growth_${k}`, `growth ${k.replace(/_/g, ' ')} (x10 specs)`, v, '×'));
  return { figures, details: { scenarios: results, growth } };
}
