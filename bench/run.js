#!/usr/bin/env node
// Runs the benchmarks (not tests: `npm test` never runs them). `npm run bench` builds first.
//
//   npm run bench                      every benchmark, full size (about 11 minutes on 2 cores)
//   npm run bench -- --quick           a short run (under 3 minutes), for CI
//   npm run bench -- pass latency      only these (also --only pass,latency)
//   npm run bench -- pass --profile    also write V8 CPU profiles of the daemon passes
//   npm run bench -- --list
//
// Each benchmark writes bench/results/<name>.json (figures, method, machine; a --quick run writes
// bench/results/quick/<name>.json) and the run ends with a summary table. Every process a benchmark starts is killed when it ends, fails, or is interrupted.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { abortBenchmark, cleanupAll, installExitHandlers, killMarked, machineInfo, resetAbort, RESULTS, round, runMark } from './lib/common.js';
import * as pass from './pass.js';
import * as cleanupDryRun from './cleanup-dry-run.js';
import * as latency from './latency.js';
import * as checkins from './checkins.js';
import * as fleet from './fleet.js';
import * as psList from './ps-list.js';
import * as hook from './hook.js';
import * as failover from './failover.js';
import * as sampling from './sampling.js';
import * as peers from './peers.js';
import * as createTask from './create-task.js';

const BENCHMARKS = [pass, cleanupDryRun, latency, checkins, fleet, psList, hook, failover, sampling, peers, createTask];

const HELP = `Usage: node bench/run.js [--quick] [--profile] [--only NAME[,NAME]] [NAME...] [--list]

  --quick        short run for CI (under 3 minutes)
  --only LIST    run only these benchmarks (comma-separated); bare names work too
  --profile      write V8 CPU profiles (pass: the daemon passes; fleet: the daemon with 1,000 workers) to
                 bench/results/profiles/; the figures then go to bench/results/<name>-profile.json
  --keep-homes   keep the temp homes (for inspection)
  --list         list the benchmarks
  -h, --help     this help

Benchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')}
`;

function parseArgs(argv) {
  const opts = { quick: false, profile: false, only: [], list: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--quick') opts.quick = true;
    else if (arg === '--profile') opts.profile = true;
    else if (arg === '--list') opts.list = true;
    else if (arg === '--keep-homes') process.env.BENCH_KEEP_HOMES = '1';
    else if (arg === '--only') opts.only.push(...(argv[++i] ?? '').split(',').filter(Boolean));
    else if (arg.startsWith('--only=')) opts.only.push(...arg.slice(7).split(',').filter(Boolean));
    else if (arg === '-h' || arg === '--help') {
      process.stdout.write(HELP);
      process.exit(0);
    } else if (!arg.startsWith('-')) opts.only.push(arg);
    else {
      process.stderr.write(`bench: unknown argument ${arg} (see --help)\n`);
      process.exit(2);
    }
  }
  const known = new Set(BENCHMARKS.map((b) => b.name));
  for (const name of opts.only) {
    if (!known.has(name)) {
      process.stderr.write(`bench: unknown benchmark "${name}": one of ${[...known].join(', ')}\n`);
      process.exit(2);
    }
  }
  return opts;
}

function writeResult(name, result, quick) {
  const dir = quick ? join(RESULTS, 'quick') : RESULTS;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}

function pad(text, width) {
  const s = String(text);
  return s.length >= width ? s : s + ' '.repeat(width - s.length);
}

function printTable(rows) {
  const headers = ['benchmark', 'figure', 'value', 'goal', 'met'];
  const cells = rows.map((r) => [r.bench, r.label, r.value === null ? '-' : `${r.value} ${r.unit}`, r.goal ?? '', r.goal === undefined ? '' : r.goal_met ? 'yes' : 'NO']);
  const widths = headers.map((h, i) => Math.min(90, Math.max(h.length, ...cells.map((c) => String(c[i]).length))));
  const line = (c) => c.map((x, i) => pad(x, widths[i])).join('  ');
  process.stdout.write(`\n${line(headers)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const c of cells) process.stdout.write(`${line(c)}\n`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.list) {
    for (const b of BENCHMARKS) process.stdout.write(`${pad(b.name, 16)} ${b.title}\n`);
    return 0;
  }
  runMark();
  installExitHandlers();
  const selected = opts.only.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => opts.only.includes(b.name));
  const machine = machineInfo();
  const command = `npm run bench --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`.replace(/ --$/, '');
  process.stdout.write(`bench: ${machine.cpus} × ${machine.cpu_model}, ${machine.memory_gb} GB, node ${machine.node}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}${opts.quick ? '; quick run' : ''}\n`);
  const started = Date.now();
  const rows = [];
  let failures = 0;
  for (const bench of selected) {
    const t0 = Date.now();
    const loadBefore = os.loadavg();
    process.stdout.write(`\n== ${bench.name}: ${bench.title}\n`);
    const log = (msg) => process.stdout.write(`${msg}\n`);
    let outcome;
    // A benchmark that overruns its bound is abandoned; everything it started is killed below.
    const limitMs = (opts.quick ? 120 : 360) * 1000;
    let timer;
    let timedOut = false;
    resetAbort();
    const running = bench.run({ quick: opts.quick, profile: opts.profile, log });
    try {
      outcome = await Promise.race([running, new Promise((_, reject) => (timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`over its time bound of ${limitMs / 1000} s`));
      }, limitMs)))]);
    } catch (error) {
      if (timedOut) {
        // Its next sleep or wait throws; let it unwind (and run its own cleanup) before the sweep below.
        abortBenchmark(`${bench.name} over its time bound`);
        await Promise.race([running.catch(() => undefined), new Promise((r) => setTimeout(r, 20_000))]);
      }
      outcome = { error: error instanceof Error ? (error.stack ?? error.message) : String(error), figures: [] };
      failures += 1;
      process.stdout.write(`bench ${bench.name} FAILED: ${outcome.error}\n`);
    } finally {
      clearTimeout(timer);
      const left = killMarked();
      if (left > 0) process.stdout.write(`(killed ${left} leftover process${left === 1 ? '' : 'es'} of ${bench.name})\n`);
    }
    if (outcome.skipped) {
      // Skipped (a missing tool, e.g. redis-server): no figures, and the last results stay as they were.
      process.stdout.write(`${bench.name}: skipped (${outcome.skipped}); no results written\n`);
      continue;
    }
    const result = {
      name: bench.name,
      profiled: opts.profile,
      title: bench.title,
      command,
      quick: opts.quick,
      machine: { ...machineInfo(), load_average_before: loadBefore.map((l) => round(l, 2)), load_average_after: os.loadavg().map((l) => round(l, 2)) },
      duration_s: round((Date.now() - t0) / 1000),
      method: bench.method,
      figures: outcome.figures,
      ...(outcome.error ? { error: outcome.error } : {}),
      details: outcome.details ?? {},
    };
    // A quick run (bench/results/quick/) or a profiled one (slower: the profiler samples) never replaces
    // the figures of a full run.
    const file = writeResult(opts.profile ? `${bench.name}-profile` : bench.name, result, opts.quick);
    process.stdout.write(`${bench.name}: ${result.duration_s} s, written to ${file}\n`);
    for (const f of outcome.figures) rows.push({ bench: bench.name, ...f });
  }
  cleanupAll();
  printTable(rows);
  const missed = rows.filter((r) => r.goal !== undefined && !r.goal_met);
  process.stdout.write(`\n${rows.length} figures in ${round((Date.now() - started) / 1000)} s; ${missed.length} goal${missed.length === 1 ? '' : 's'} missed${failures ? `; ${failures} benchmark${failures === 1 ? '' : 's'} FAILED` : ''}\n`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
    cleanupAll();
    process.exitCode = 1;
  },
);
