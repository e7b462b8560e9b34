// Benchmark 2: `scripts/cleanup-zombie-workers.sh --dry-run` over N active specs that are all zombies.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { below, benchEnv, ROOT, bootId, childrenCpuMs, equals, figure, makeHome, makeSpec, removeHome, round, SCRIPTS, summarize, writeJsonAtomic } from './lib/common.js';

export const name = 'cleanup-dry-run';
export const title = 'cleanup-zombie-workers.sh --dry-run over N zombie specs';

export const method = [
  'A temp home holds N running specs in active/, each recording a pid with no live process (a pid number absent from /proc when the home is built, with a start tick and the current boot id), no exit record, and a check-in from 3 minutes before: N zombies by the daemon\'s rule.',
  'The real command, scripts/cleanup-zombie-workers.sh --dry-run (sh, then node dist/cli/main.js), is run as a child process; wall time from spawn to exit, CPU (user + system) from this process\'s cutime/cstime in /proc/self/stat (10 ms resolution).',
  'Exact count: the last line must say "N zombie workers found" and there must be N "ZOMBIE:" lines; nothing may change (active/ still holds N specs, failed/ none, no event appended). Should a pid be reused meanwhile, the start tick no longer matches and the spec is still a zombie ("reused"), so the expected count stays N.',
  'Median of the repeated runs; the run over an empty home shows the fixed cost of starting the CLI. For comparison, bench/lib/find-zombies-only.js runs the same rule (dist/ops/zombies.js findZombies) in a fresh node without the CLI.',
];

/** N pid numbers with no process behind them right now. */
function deadPids(n) {
  const live = new Set(readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number));
  let max = 32768;
  try {
    max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
  } catch {
    /* default */
  }
  const out = [];
  // From the top of the range down: the kernel hands out low pids after a wrap, high ones last.
  for (let pid = max - 1; pid > 300 && out.length < n; pid -= 1) if (!live.has(pid)) out.push(pid);
  if (out.length < n) throw new Error(`only ${out.length} free pids below pid_max ${max}`);
  return out;
}

function runDryRun(home, lean = false) {
  const [file, args] = lean ? [process.execPath, [join(ROOT, 'bench', 'lib', 'find-zombies-only.js')]] : [join(SCRIPTS, 'cleanup-zombie-workers.sh'), ['--dry-run']];
  return new Promise((resolve) => {
    const cpu0 = childrenCpuMs();
    const t0 = performance.now();
    execFile(file, args, { env: benchEnv({ COMMIT_RELAY_HOME: home }), maxBuffer: 256 << 20, timeout: 120_000 }, (error, stdout, stderr) => {
      const wallMs = performance.now() - t0;
      resolve({ wallMs, cpuMs: childrenCpuMs() - cpu0, code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

export async function buildHome(n) {
  const { home, paths } = await makeHome(`dryrun-${n}`, { bench: { command: ['sleep', '3600'] } });
  const boot = bootId();
  const now = Date.now();
  const pids = deadPids(n);
  for (let i = 0; i < n; i += 1) {
    const id = `bench-zombie-${String(i).padStart(5, '0')}`;
    const runId = `run-bench-${i}`;
    writeJsonAtomic(
      paths.specFile('active', id),
      makeSpec({
        id,
        type: 'bench',
        status: 'running',
        createdAt: new Date(now - 900_000).toISOString(),
        execution: { started_at: new Date(now - 600_000).toISOString(), pid: pids[i], process_start_ticks: 4242, boot_id: boot, host: 'bench', run_id: runId, restart_count: 0 },
      }),
    );
    writeFileSync(paths.checkinFile(id), `${JSON.stringify({ worker_id: id, timestamp: new Date(now - 180_000).toISOString(), status: 'in_progress', progress_pct: 30, message: null, run_id: runId })}\n`);
  }
  return { home, paths };
}

export async function run({ quick, log }) {
  const sizes = [0, 100, 1000, 10000];
  const reps = quick ? { 0: 1, 100: 1, 1000: 2, 10000: 1 } : { 0: 5, 100: 5, 1000: 5, 10000: 3 };
  const figures = [];
  const details = {};
  for (const n of sizes) {
    const { home, paths } = await buildHome(n);
    const runs = [];
    let countsExact = true;
    for (let r = 0; r < reps[n]; r += 1) {
      const out = await runDryRun(home);
      if (out.code !== 0) throw new Error(`cleanup-zombie-workers --dry-run exited ${out.code} over ${n} specs: ${out.stderr}`);
      const lines = out.stdout.trim().split('\n');
      const last = lines[lines.length - 1] ?? '';
      const reported = Number(/^(\d+) zombie worker/.exec(last)?.[1] ?? NaN);
      const listed = lines.filter((l) => l.startsWith('ZOMBIE: ')).length;
      const exact = reported === n && listed === n;
      countsExact &&= exact;
      runs.push({ wall_ms: round(out.wallMs), cpu_ms: round(out.cpuMs), reported, listed, exact });
    }
    // The same rule without the CLI (yargs and every command's modules): where the time goes.
    const lean = [];
    for (let r = 0; r < reps[n]; r += 1) {
      const out = await runDryRun(home, true);
      if (out.code !== 0 || Number(/^(\d+) zombie/.exec(out.stdout)?.[1]) !== n) throw new Error(`find-zombies-only over ${n} specs: ${out.stdout} ${out.stderr}`);
      lean.push(out.wallMs);
    }
    const unchanged = readdirSync(paths.specDir('active')).filter((f) => f.endsWith('.json')).length === n && readdirSync(paths.specDir('failed')).length === 0 && !existsActivity(paths);
    const wall = summarize(runs.map((r) => r.wall_ms));
    const cpu = summarize(runs.map((r) => r.cpu_ms));
    const leanWall = summarize(lean);
    details[n] = { runs, wall_ms: wall, cpu_ms: cpu, counts_exact: countsExact, nothing_changed: unchanged, find_zombies_only_wall_ms: leanWall };
    log(`cleanup-dry-run: N=${n}: wall p50 ${wall.p50} ms, CPU p50 ${cpu.p50} ms, count ${runs[0].reported} (${countsExact ? 'exact' : 'WRONG'}), ${unchanged ? 'nothing changed' : 'SOMETHING CHANGED'}`);
    figures.push(figure(`n${n}_wall_p50_ms`, n === 0 ? 'empty home (CLI start-up): wall p50' : `N=${n}: wall p50 (CPU p50 ${cpu.p50} ms)`, wall.p50, 'ms', n === 1000 ? below(1000, 'ms') : undefined));
    figures.push(figure(`n${n}_rule_only_wall_p50_ms`, `${n === 0 ? 'empty home' : `N=${n}`}: the same rule without the CLI (bench/lib/find-zombies-only.js), wall p50`, leanWall.p50, 'ms'));
    if (n > 0) figures.push(figure(`n${n}_count_exact`, `N=${n}: count reported exactly (${runs[0].reported}) in every run, nothing changed`, countsExact && unchanged ? 1 : 0, 'bool', equals(1)));
    removeHome(home);
  }
  if (details[1000] && details[10000]) figures.push(figure('growth_1k_to_10k_wall', 'growth 1k → 10k specs (wall p50, x10 specs)', round(details[10000].wall_ms.p50 / details[1000].wall_ms.p50, 2), '×'));
  return { figures, details };
}

function existsActivity(paths) {
  try {
    return readFileSync(paths.activity, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}
