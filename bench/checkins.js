// Benchmark 4: check-ins. The wall time of one scripts/checkin.sh, and how many check-ins a second the
// daemon absorbs from 200 workers without losing one or showing a stale one.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cpuMsOf,
  figure,
  FIXTURES,
  killMarked,
  makeHome,
  makeSpec,
  queuedTasks,
  readJson,
  removeHome,
  round,
  SCRIPTS,
  benchEnv,
  sleep,
  startDaemonProcess,
  stopDaemonProcess,
  summarize,
  waitFor,
  writeJsonAtomic,
} from './lib/common.js';

export const name = 'checkins';
export const title = 'Check-ins: one checkin.sh, and the rate the daemon absorbs from 200 workers';

export const method = [
  'One check-in: scripts/checkin.sh --progress N run from a small sh loop (as hyperfine would, so the fork cost of a 100 MB node parent is not counted), timed with date +%s%N before and after each run; the same loop around /bin/true and around `node -e 0` shows the floor. Median of the runs.',
  'Throughput: a real daemon (default settings, max_concurrent_workers 200) runs 200 workers of bench/fixtures/checkin-loop.sh, which check in in a loop by writing their own check-in file (temp file + rename, the same file checkin.sh writes), numbering each check-in in "message". The sleep between check-ins is stepped (the fixture re-reads a control file each round); each step runs for a fixed time, then the workers pause and, after a quiet moment (a pass later than the newest check-in), the bench compares, per worker, its last check-in file with pm-state.json: stale = last_checkin differs from the file\'s timestamp; lost = check-ins written minus the daemon\'s checkin_count increase. The offered rate is what the 200 sh workers achieved (each check-in costs them a date, a mv and a sleep: on 2 cores the writers, not the daemon, may be the limit). Daemon CPU is utime + stime from /proc over the step.',
];

async function timeLoop(cmd, runs, env) {
  const script = `i=0; while [ $i -lt ${runs} ]; do s=$(date +%s%N); ${cmd} >/dev/null 2>&1 || echo FAIL; e=$(date +%s%N); echo $(( (e - s) / 1000 )); i=$((i+1)); done`;
  const out = await new Promise((resolve, reject) =>
    execFile('sh', ['-c', script], { env, maxBuffer: 1 << 20, timeout: 120_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
  if (out.includes('FAIL')) throw new Error(`${cmd} failed`);
  return out.trim().split('\n').map((us) => Number(us) / 1000);
}

async function oneCheckin(runs) {
  const { home, paths } = await makeHome('checkin-one', { bench: { command: ['sleep', '3600'] } });
  try {
    const id = 'bench-checkin-1';
    writeJsonAtomic(paths.specFile('active', id), makeSpec({ id, type: 'bench', status: 'running', execution: { pid: process.pid, run_id: 'run-bench-1', started_at: new Date().toISOString() } }));
    const env = benchEnv({ COMMIT_RELAY_HOME: home, WORKER_ID: id, COMMIT_RELAY_RUN_ID: 'run-bench-1' });
    const checkin = await timeLoop(`'${join(SCRIPTS, 'checkin.sh')}' --progress 42 --message bench`, runs, env);
    const written = JSON.parse(readFileSync(paths.checkinFile(id), 'utf8'));
    if (written.progress_pct !== 42) throw new Error('checkin.sh did not write the check-in');
    const trueFloor = await timeLoop('/bin/true', runs, env);
    const nodeFloor = await timeLoop(`'${process.execPath}' -e 0`, runs, env);
    return { checkin_sh_ms: summarize(checkin), true_ms: summarize(trueFloor), node_e_0_ms: summarize(nodeFloor) };
  } finally {
    removeHome(home);
  }
}

/** Per worker: the sequence number and timestamp of its last check-in file. */
function lastWritten(paths) {
  const out = new Map();
  for (const f of readdirSync(paths.checkins)) {
    if (!f.endsWith('.json')) continue;
    try {
      const c = JSON.parse(readFileSync(join(paths.checkins, f), 'utf8'));
      out.set(c.worker_id, { n: Number(c.message), ts: c.timestamp });
    } catch {
      /* mid-rename: not possible for a .json, but never fail the bench on it */
    }
  }
  return out;
}

async function throughput({ workers, steps, stepSeconds, log }) {
  const TYPE = 'chatty';
  const { home, paths } = await makeHome(
    'checkins',
    {
      [TYPE]: {
        command: ['sh', join(FIXTURES, 'checkin-loop.sh'), '{worker_id}'],
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
  control('pause 0.5');
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
    let prevWritten = new Map();
    let prevCounts = new Map();
    const results = [];
    for (const interval of steps) {
      const state0 = readJson(paths.pmState);
      const cpu0 = cpuMsOf(daemon.pid);
      const t0 = Date.now();
      control(`run ${interval}`);
      await sleep(stepSeconds * 1000);
      control('pause 0.5');
      const t1 = Date.now();
      const cpu1 = cpuMsOf(daemon.pid);
      // Every worker finishes the round it is in, then only sleeps.
      await sleep(interval * 1000 + 800);
      const written = lastWritten(paths);
      const newest = Math.max(...[...written.values()].map((w) => Date.parse(w.ts)));
      await waitFor(() => Date.parse(readJson(paths.pmState).pm_daemon.last_loop) > newest + 5, { timeoutMs: 15_000, intervalMs: 50, what: 'a pass after the last check-in' });
      await sleep(300);
      const state = readJson(paths.pmState);
      let writtenCount = 0;
      let seenCount = 0;
      let stale = 0;
      let lostWorkers = 0;
      const counts = new Map();
      for (const [id, w] of written) {
        const m = state.monitored_workers[id];
        const c = m?.checkin_count ?? 0;
        counts.set(id, c);
        const dw = w.n - (prevWritten.get(id)?.n ?? 0);
        const dc = c - (prevCounts.get(id) ?? 0);
        writtenCount += dw;
        seenCount += dc;
        if (dc < dw) lostWorkers += 1;
        if (m?.last_checkin !== w.ts) stale += 1;
      }
      const seconds = (t1 - t0) / 1000;
      const step = {
        interval_s: interval,
        seconds: round(seconds, 2),
        workers_writing: written.size,
        written: writtenCount,
        offered_per_s: round(writtenCount / seconds),
        seen: seenCount,
        lost: writtenCount - seenCount,
        workers_with_lost: lostWorkers,
        stale,
        passes: state.pm_daemon.loops_completed - state0.pm_daemon.loops_completed,
        daemon_cpu_pct: round(((cpu1 - cpu0) / (t1 - t0)) * 100),
        last_pass_ms: state.pm_daemon.last_pass_ms,
      };
      results.push(step);
      log(`checkins: every ${interval} s: ${step.offered_per_s}/s written, ${step.seen} of ${step.written} seen (lost ${step.lost}), stale ${step.stale}, ${step.passes} passes, daemon ${step.daemon_cpu_pct}% of a core`);
      prevWritten = written;
      prevCounts = counts;
    }
    return results;
  } finally {
    if (daemon) await stopDaemonProcess(daemon, 'SIGKILL');
    killMarked();
    removeHome(home);
  }
}

export async function run({ quick, log }) {
  const one = await oneCheckin(quick ? 20 : 30);
  log(`checkins: one checkin.sh: p50 ${one.checkin_sh_ms.p50} ms (node -e 0: ${one.node_e_0_ms.p50} ms, /bin/true: ${one.true_ms.p50} ms)`);
  const workers = quick ? 50 : 200;
  const steps = await throughput({ workers, steps: quick ? [0.25] : [1, 0.5, 0.25, 0.1], stepSeconds: quick ? 5 : 8, log });
  const clean = steps.filter((s) => s.lost === 0 && s.stale === 0);
  const best = clean.length === 0 ? null : Math.max(...clean.map((s) => s.offered_per_s));
  const highest = steps.reduce((a, s) => (s.offered_per_s > a.offered_per_s ? s : a), steps[0]);
  const figures = [
    figure('checkin_sh_p50_ms', `one scripts/checkin.sh, wall p50 (n=${one.checkin_sh_ms.n}; node -e 0: ${one.node_e_0_ms.p50} ms)`, one.checkin_sh_ms.p50, 'ms'),
    figure('absorbed_per_s', `check-ins/s from ${workers} workers absorbed with none lost or stale (highest clean step)`, best, '/s'),
    figure('highest_offered_per_s', `highest rate offered (lost ${highest.lost}, stale ${highest.stale}, daemon ${highest.daemon_cpu_pct}% of a core)`, highest.offered_per_s, '/s'),
  ];
  return { figures, details: { one_checkin: one, steps } };
}
