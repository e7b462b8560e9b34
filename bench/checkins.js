// Benchmark 4: check-ins. How many check-ins a second the daemon absorbs from 200 workers without losing one
// or showing a stale one (the wall time of one scripts/checkin.sh is in bench/hook.js, with the hook's).
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cpuMsOf,
  figure,
  FIXTURES,
  killMarked,
  makeHome,
  queuedTasks,
  readJson,
  removeHome,
  round,
  ROOT,
  benchEnv,
  sleep,
  startDaemonProcess,
  stopDaemonProcess,
  waitFor,
  writeJsonAtomic,
} from './lib/common.js';

export const name = 'checkins';
export const title = 'Check-ins: the rate the daemon absorbs from 200 workers';

export const method = [
  'Throughput: a real daemon (default settings, max_concurrent_workers 200) supervises 200 live workers of bench/fixtures/checkin-loop.sh. Two kinds of load, each in steps of a fixed time, then a quiet moment until a pass later than the newest check-in. Per worker the bench compares what was written with pm-state.json: lost = check-ins written minus the increase of its checkin_count (a check-in overwritten before any pass read it); stale = last_checkin differs from the last check-in written.',
  '(a) The workers check in themselves, in a loop (the bash fixture writes its check-in file as checkin.sh does: temp file + rename; the wait between rounds is stepped through a control file). Each check-in costs the worker one fork (the mv; its clock and its wait are bash builtins), yet 200 of them still compete with the daemon for 2 cores.',
  '(b) The workers only sleep, and one separate node process (bench/lib/checkin-writer.js) writes their check-ins round robin at a target rate, each exactly as checkin.sh writes it: this measures what the daemon absorbs when the writers are cheap.',
  'Daemon CPU is utime + stime from /proc/PID/stat over the step, as % of one core.',
];

/** Per worker: the sequence number and timestamp of its last check-in file. */
function lastWritten(paths) {
  const out = new Map();
  for (const f of readdirSync(paths.checkins)) {
    if (!f.endsWith('.json')) continue;
    try {
      const c = JSON.parse(readFileSync(join(paths.checkins, f), 'utf8'));
      out.set(c.worker_id, { n: Number(c.message), ts: c.timestamp });
    } catch {
      /* never fail the bench on one unreadable file */
    }
  }
  return out;
}

/** After the writers stopped: waits for a pass later than the newest check-in, then returns pm-state.json. */
async function settledState(paths, newestMs) {
  await waitFor(() => Date.parse(readJson(paths.pmState).pm_daemon.last_loop) > newestMs + 5, { timeoutMs: 15_000, intervalMs: 50, what: 'a pass after the last check-in' });
  await sleep(300);
  return readJson(paths.pmState);
}

/** One step's verdict: per worker, check-ins written vs the daemon's checkin_count increase, and last_checkin vs the file. */
function judge({ before, after, writtenBy, lastBy, seconds, cpuMs, interval, rate }) {
  let written = 0;
  let seen = 0;
  let stale = 0;
  let workersWithLost = 0;
  for (const [id, n] of writtenBy) {
    const m = after.monitored_workers[id];
    const dc = (m?.checkin_count ?? 0) - (before.monitored_workers[id]?.checkin_count ?? 0);
    written += n;
    seen += dc;
    if (dc < n) workersWithLost += 1;
    if (n > 0 && m?.last_checkin !== lastBy.get(id)) stale += 1;
  }
  return {
    ...(interval === undefined ? {} : { interval_s: interval }),
    ...(rate === undefined ? {} : { target_per_s: rate }),
    seconds: round(seconds, 2),
    workers_writing: [...writtenBy.values()].filter((n) => n > 0).length,
    written,
    offered_per_s: round(written / seconds),
    seen,
    lost: written - seen,
    workers_with_lost: workersWithLost,
    stale,
    passes: after.pm_daemon.loops_completed - before.pm_daemon.loops_completed,
    daemon_cpu_pct: round((cpuMs / (seconds * 1000)) * 100),
  };
}

function runWriter(cfg) {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [join(ROOT, 'bench', 'lib', 'checkin-writer.js'), JSON.stringify(cfg)], { env: benchEnv(), maxBuffer: 16 << 20, timeout: 120_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`checkin-writer failed: ${error.message} ${stderr}`)) : resolve(JSON.parse(stdout.trim().split('\n').pop())),
    ),
  );
}

async function throughput({ workers, intervals, rates, stepSeconds, log }) {
  const TYPE = 'chatty';
  const { home, paths } = await makeHome(
    'checkins',
    {
      [TYPE]: {
        command: ['bash', join(FIXTURES, 'checkin-loop.sh'), '{worker_id}'],
        time_limit_seconds: 0,
        checkin_timeout_seconds: 86_400,
        stall_timeout_seconds: 172_800,
        startup_grace_seconds: 86_400,
        stop_grace_seconds: 1,
      },
    },
    { max_concurrent_workers: workers },
  );
  const ctl = join(home, 'bench-ctl');
  const types = readJson(paths.workerTypes);
  types.worker_types[TYPE].env = { BENCH_CTL: ctl };
  writeJsonAtomic(paths.workerTypes, types);
  mkdirSync(ctl, { recursive: true });
  const control = (text) => {
    writeFileSync(join(ctl, 'control.tmp'), `${text}\n`);
    renameSync(join(ctl, 'control.tmp'), join(ctl, 'control'));
  };
  control('pause 1');
  writeJsonAtomic(paths.taskQueue, queuedTasks(workers, TYPE));
  let daemon;
  try {
    daemon = await startDaemonProcess(paths);
    await waitFor(() => Object.values(readJson(paths.pmState).monitored_workers).filter((w) => w.status === 'running' && w.pid).length === workers, {
      timeoutMs: 180_000,
      intervalMs: 200,
      what: `${workers} workers running`,
    });
    await sleep(1500);
    const byWorkers = [];
    let prev = new Map();
    for (const interval of intervals) {
      const before = readJson(paths.pmState);
      const cpu0 = cpuMsOf(daemon.pid);
      const t0 = Date.now();
      control(`run ${interval}`);
      await sleep(stepSeconds * 1000);
      control('pause 1');
      const t1 = Date.now();
      const cpuMs = cpuMsOf(daemon.pid) - cpu0;
      // Every worker finishes the round it is in, then only sleeps.
      await sleep(interval * 1000 + 1500);
      const files = lastWritten(paths);
      const after = await settledState(paths, Math.max(...[...files.values()].map((w) => Date.parse(w.ts))));
      const writtenBy = new Map([...files].map(([id, w]) => [id, w.n - (prev.get(id)?.n ?? 0)]));
      const step = judge({ before, after, writtenBy, lastBy: new Map([...files].map(([id, w]) => [id, w.ts])), seconds: (t1 - t0) / 1000, cpuMs, interval });
      byWorkers.push(step);
      log(`checkins: ${workers} sh workers, every ${interval} s: ${step.offered_per_s}/s written, ${step.seen} of ${step.written} seen (lost ${step.lost}), stale ${step.stale}, ${step.passes} passes, daemon ${step.daemon_cpu_pct}% of a core`);
      prev = files;
    }
    // The generator: the workers only sleep; one separate node process writes their check-ins.
    control('pause 30');
    await sleep(2500);
    const runIds = Object.fromEntries(Object.values(readJson(paths.pmState).monitored_workers).map((w) => [w.worker_id, readJson(paths.specFile('active', w.worker_id)).execution.run_id]));
    const byWriter = [];
    for (const rate of rates) {
      const before = readJson(paths.pmState);
      const cpu0 = cpuMsOf(daemon.pid);
      const out = await runWriter({ checkins: paths.checkins, workers: Object.entries(runIds), rate, seconds: stepSeconds });
      const cpuMs = cpuMsOf(daemon.pid) - cpu0;
      const lastBy = new Map(Object.entries(out.last));
      const after = await settledState(paths, Math.max(...[...lastBy.values()].map((ts) => Date.parse(ts))));
      const step = judge({ before, after, writtenBy: new Map(Object.entries(out.written)), lastBy, seconds: out.seconds, cpuMs, rate });
      byWriter.push(step);
      log(`checkins: one writer for ${workers} workers at ${rate}/s: ${step.offered_per_s}/s written, ${step.seen} of ${step.written} seen (lost ${step.lost}), stale ${step.stale}, ${step.passes} passes, daemon ${step.daemon_cpu_pct}% of a core`);
    }
    return { byWorkers, byWriter };
  } finally {
    if (daemon) await stopDaemonProcess(daemon, 'SIGKILL');
    killMarked();
    removeHome(home);
  }
}

export async function run({ quick, log }) {
  const workers = quick ? 50 : 200;
  const { byWorkers, byWriter } = await throughput({ workers, intervals: quick ? [1] : [2, 1], rates: quick ? [500] : [500, 1000, 2000], stepSeconds: quick ? 5 : 6, log });
  const clean = (steps) => {
    const ok = steps.filter((s) => s.lost === 0 && s.stale === 0);
    return ok.length === 0 ? null : Math.max(...ok.map((s) => s.offered_per_s));
  };
  const top = (steps) => steps.reduce((a, s) => (s.offered_per_s > a.offered_per_s ? s : a), steps[0]);
  const topWorkers = top(byWorkers);
  const topWriter = top(byWriter);
  const figures = [
    figure('sh_workers_clean_per_s', `check-ins/s written by ${workers} sh workers themselves, none lost or stale (highest clean step)`, clean(byWorkers), '/s'),
    figure('sh_workers_top_per_s', `highest rate ${workers} sh workers wrote (lost ${topWorkers.lost}, stale ${topWorkers.stale}, daemon ${topWorkers.daemon_cpu_pct}% of a core)`, topWorkers.offered_per_s, '/s'),
    figure('writer_clean_per_s', `check-ins/s for ${workers} workers from one writer process, none lost or stale (highest clean step)`, clean(byWriter), '/s'),
    figure('writer_top_per_s', `highest writer rate (lost ${topWriter.lost}, stale ${topWriter.stale}, daemon ${topWriter.daemon_cpu_pct}% of a core, ${topWriter.passes} passes)`, topWriter.offered_per_s, '/s'),
  ];
  return { figures, details: { workers, steps_sh_workers: byWorkers, steps_writer: byWriter } };
}
