// Benchmark 3: detection latency under a real daemon with 200 live workers: crash → event → running
// again, and kill -9 of a whole group → zombie_detected → running again.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ActivityTail,
  below,
  figure,
  FIXTURES,
  killMarked,
  makeHome,
  queuedTasks,
  readFixtureLog,
  readJson,
  removeHome,
  round,
  sleep,
  startDaemonProcess,
  stopDaemonProcess,
  summarize,
  waitFor,
  waitForFirstPass,
  workerIdFor,
  writeFifo,
  writeJsonAtomic,
} from './lib/common.js';

export const name = 'latency';
export const title = 'Detection latency: crash and kill -9 of a group, with 200 live workers';

export const method = [
  'A real daemon (node dist/cli/main.js pm-daemon, PM_LOOP_INTERVAL unset: the default 5 s) on a temp home with max_concurrent_workers 200 starts 200 workers from 200 queued tasks. The worker (bench/fixtures/crashable.sh, inside the usual shim) notes when it runs, then blocks on its own FIFO; the line "crash" makes it take the time (date +%s%N) and exit 3 at once. The type has restart_backoff_seconds 0.',
  'Crash: one worker at a time (each a different worker, chosen at random, a random 50-200 ms apart), from the worker\'s own timestamp just before it exits to the timestamp of the daemon\'s worker_exited event in pm-activity.jsonl, and to its worker_started event of the restart; "process up" is the new run\'s own first timestamp.',
  'kill -9: process.kill(-pgid, "SIGKILL") on the whole group of a worker (pgid = the pid in its spec), timed just before the call, to zombie_detected and to worker_started of the restart. First for workers the daemon itself started (its child\'s exit asks for a pass at once), then after a graceful daemon restart for workers the new daemon adopted (no child handle: only the periodic pass finds them, so the latency is spread over the loop interval; kills staggered 100-300 ms apart).',
  'Timestamps: the worker\'s date and the daemon\'s event timestamps (ms) read the same wall clock of the same machine. Percentiles are nearest-rank (p99 of fewer than 100 samples is the maximum).',
];

const TYPE = 'crashy';

/** Collects the daemon's events per worker as they are appended. */
class EventIndex {
  constructor(file) {
    this.tail = new ActivityTail(file);
    this.byWorker = new Map();
  }
  poll() {
    for (const e of this.tail.read()) {
      if (!e.worker_id) continue;
      const list = this.byWorker.get(e.worker_id) ?? [];
      list.push({ event: e.event, ms: Date.parse(e.timestamp), data: e.data });
      this.byWorker.set(e.worker_id, list);
    }
  }
  /** The first event of this type for this worker at or after sinceMs. */
  first(workerId, type, sinceMs) {
    return (this.byWorker.get(workerId) ?? []).find((e) => e.event === type && e.ms >= sinceMs - 1);
  }
}

function fixtureLines(ctl) {
  return readFixtureLog(join(ctl, 'events.log'));
}

function upOf(ctl, workerId, restart) {
  return fixtureLines(ctl).find((l) => l.kind === 'up' && l.worker === workerId && l.restart === restart);
}

function pick(pool, used) {
  const free = pool.filter((w) => !used.has(w));
  const w = free[Math.floor(Math.random() * free.length)];
  used.add(w);
  return w;
}

async function crashOne(ctl, index, workerId, restartBefore) {
  await waitFor(() => writeFifo(join(ctl, 'fifo', workerId), 'crash\n'), { timeoutMs: 5000, intervalMs: 5, what: `${workerId} to read its FIFO` });
  const crash = await waitFor(() => fixtureLines(ctl).find((l) => l.kind === 'crash' && l.worker === workerId && l.restart === restartBefore), { timeoutMs: 5000, intervalMs: 5, what: `${workerId} to crash` });
  return waitRecovered(ctl, index, workerId, crash.ms, 'worker_exited', restartBefore + 1);
}

async function waitRecovered(ctl, index, workerId, sinceMs, detectEvent, restartAfter, timeoutMs = 20_000) {
  const done = await waitFor(
    () => {
      index.poll();
      const detected = index.first(workerId, detectEvent, sinceMs);
      const started = index.first(workerId, 'worker_started', sinceMs);
      const up = upOf(ctl, workerId, restartAfter);
      return detected && started && up ? { detected, started, up } : undefined;
    },
    { timeoutMs, intervalMs: 10, what: `${workerId}: ${detectEvent} and a restart` },
  );
  return { worker: workerId, at: sinceMs, detect_ms: done.detected.ms - sinceMs, running_ms: done.started.ms - sinceMs, up_ms: done.up.ms - sinceMs, decision: done.detected.data?.decision ?? null };
}

/** worker id → times (ms) of the daemon's "restart scheduled" log lines. */
function restartsScheduled(logFile) {
  const out = new Map();
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"restart scheduled"')) continue;
    try {
      const entry = JSON.parse(line);
      const list = out.get(entry.worker_id) ?? [];
      list.push(Date.parse(entry.time));
      out.set(entry.worker_id, list);
    } catch {
      /* a line cut by a kill */
    }
  }
  return out;
}

const specPid = (paths, workerId) => readJson(paths.specFile('active', workerId)).execution.pid;

export async function run({ quick, log }) {
  // --quick: a smaller fleet and fewer samples (a smoke run; the full run is the measurement).
  const fleetSize = quick ? 50 : 200;
  const crashes = quick ? 25 : 50;
  const kills = quick ? 25 : 50;
  const adoptedKills = quick ? 20 : 50;
  const adoptedCrashes = quick ? 0 : 50;
  const { home, paths } = await makeHome(
    'latency',
    {
      [TYPE]: {
        command: ['sh', join(FIXTURES, 'crashable.sh'), '{worker_id}'],
        time_limit_seconds: 0,
        checkin_timeout_seconds: 86_400,
        stall_timeout_seconds: 172_800,
        startup_grace_seconds: 86_400,
        max_restarts: 100_000,
        restart_backoff_seconds: 0,
        restart_backoff_max_seconds: 0,
        stop_grace_seconds: 1,
        env: {},
      },
    },
    { max_concurrent_workers: fleetSize },
  );
  const ctl = join(home, 'bench-ctl');
  mkdirSync(join(ctl, 'fifo'), { recursive: true });
  // The worker type's env carries the control folder.
  const types = readJson(paths.workerTypes);
  types.worker_types[TYPE].env = { BENCH_CTL: ctl };
  writeJsonAtomic(paths.workerTypes, types);
  const queue = queuedTasks(fleetSize, TYPE);
  const workers = queue.tasks.map((t) => workerIdFor(t.task_id, TYPE));
  writeJsonAtomic(paths.taskQueue, queue);

  let daemon;
  try {
    const t0 = Date.now();
    daemon = await startDaemonProcess(paths);
    await waitFor(() => new Set(fixtureLines(ctl).filter((l) => l.kind === 'up').map((l) => l.worker)).size === fleetSize, { timeoutMs: 180_000, intervalMs: 100, what: `${fleetSize} workers up` });
    log(`latency: ${fleetSize} workers up in ${round((Date.now() - t0) / 1000)} s`);
    await sleep(1500);
    const index = new EventIndex(paths.activity);
    index.poll();
    const restarts = new Map(workers.map((w) => [w, 0]));
    const used = new Set();

    const crashSamples = [];
    for (let i = 0; i < crashes; i += 1) {
      const w = pick(workers, used);
      const sample = await crashOne(ctl, index, w, restarts.get(w));
      restarts.set(w, restarts.get(w) + 1);
      crashSamples.push(sample);
      await sleep(quick ? 20 + Math.random() * 60 : 50 + Math.random() * 150);
    }
    log(`latency: ${crashSamples.length} crashes: event p50 ${summarize(crashSamples.map((s) => s.detect_ms)).p50} ms, running p50 ${summarize(crashSamples.map((s) => s.running_ms)).p50} ms`);

    const killSamples = [];
    for (let i = 0; i < kills; i += 1) {
      const w = pick(workers, used);
      const pgid = specPid(paths, w);
      const at = Date.now();
      process.kill(-pgid, 'SIGKILL');
      killSamples.push(await waitRecovered(ctl, index, w, at, 'zombie_detected', restarts.get(w) + 1));
      restarts.set(w, restarts.get(w) + 1);
      await sleep(quick ? 20 + Math.random() * 60 : 50 + Math.random() * 150);
    }
    log(`latency: ${killSamples.length} kill -9 (daemon's own children): zombie p50 ${summarize(killSamples.map((s) => s.detect_ms)).p50} ms`);

    // A graceful restart of the daemon: the workers keep running and the new daemon adopts them.
    await stopDaemonProcess(daemon, 'SIGTERM');
    daemon = await startDaemonProcess(paths);
    await waitForFirstPass(paths, daemon);
    await sleep(1000);
    index.poll();
    used.clear();
    const adoptedPool = [...workers];
    const pending = [];
    for (let i = 0; i < adoptedKills; i += 1) {
      const w = pick(adoptedPool, used);
      const pgid = specPid(paths, w);
      const at = Date.now();
      process.kill(-pgid, 'SIGKILL');
      pending.push({ w, at, restart: restarts.get(w) + 1 });
      restarts.set(w, restarts.get(w) + 1);
      await sleep(quick ? 50 + Math.random() * 100 : 100 + Math.random() * 200);
    }
    const adoptedKillSamples = [];
    for (const p of pending) adoptedKillSamples.push(await waitRecovered(ctl, index, p.w, p.at, 'zombie_detected', p.restart, 30_000));
    log(`latency: ${adoptedKillSamples.length} kill -9 (adopted workers): zombie p50 ${summarize(adoptedKillSamples.map((s) => s.detect_ms)).p50} ms, p99 ${summarize(adoptedKillSamples.map((s) => s.detect_ms)).p99} ms`);

    const adoptedCrashSamples = [];
    const adoptedUsed = new Set(used);
    for (let i = 0; i < adoptedCrashes; i += 1) {
      const w = pick(workers, adoptedUsed);
      const sample = await crashOne(ctl, index, w, restarts.get(w));
      restarts.set(w, restarts.get(w) + 1);
      adoptedCrashSamples.push(sample);
      await sleep(50 + Math.random() * 150);
    }
    if (adoptedCrashSamples.length > 0) log(`latency: ${adoptedCrashSamples.length} crashes (adopted workers): event p50 ${summarize(adoptedCrashSamples.map((s) => s.detect_ms)).p50} ms`);

    // Where the time goes: the daemon logs "restart scheduled" once the spec is back to pending.
    await stopDaemonProcess(daemon, 'SIGTERM');
    daemon = undefined;
    const scheduled = restartsScheduled(paths.daemonLog);
    for (const sample of [...crashSamples, ...killSamples, ...adoptedKillSamples, ...adoptedCrashSamples]) {
      const at = (scheduled.get(sample.worker) ?? []).find((ms) => ms >= sample.at - 1);
      sample.scheduled_ms = at === undefined ? null : at - sample.at;
    }
    const stats = (samples) => ({
      detect_ms: summarize(samples.map((s) => s.detect_ms)),
      restart_scheduled_ms: summarize(samples.filter((s) => s.scheduled_ms !== null).map((s) => s.scheduled_ms)),
      running_ms: summarize(samples.map((s) => s.running_ms)),
      process_up_ms: summarize(samples.map((s) => s.up_ms)),
    });
    const crash = stats(crashSamples);
    const kill = stats(killSamples);
    const adopted = stats(adoptedKillSamples);
    const loopMs = readJson(paths.pmState).configuration.loop_interval_seconds * 1000;
    const figures = [
      figure('crash_to_event_p50_ms', `crash → worker_exited p50 (n=${crash.detect_ms.n}, ${fleetSize} live workers)`, crash.detect_ms.p50, 'ms'),
      figure('crash_to_event_p99_ms', 'crash → worker_exited p99', crash.detect_ms.p99, 'ms', below(100, 'ms')),
      figure('crash_to_running_p50_ms', 'crash → worker_started (restart, backoff 0) p50', crash.running_ms.p50, 'ms', below(50, 'ms')),
      figure('crash_to_running_p99_ms', 'crash → worker_started p99', crash.running_ms.p99, 'ms'),
      figure('crash_to_restart_scheduled_p50_ms', 'crash → spec back to pending ("restart scheduled" in the daemon log) p50', crash.restart_scheduled_ms.p50, 'ms'),
      figure('crash_to_process_up_p50_ms', 'crash → restarted process runs its first line, p50', crash.process_up_ms.p50, 'ms'),
      figure('kill9_to_zombie_p50_ms', `kill -9 group → zombie_detected p50, daemon's own children (n=${kill.detect_ms.n})`, kill.detect_ms.p50, 'ms'),
      figure('kill9_to_zombie_p99_ms', "kill -9 group → zombie_detected p99, daemon's own children", kill.detect_ms.p99, 'ms', below(loopMs + 1000, 'ms')),
      figure('kill9_to_running_p50_ms', "kill -9 group → running again p50, daemon's own children", kill.running_ms.p50, 'ms'),
      figure('adopted_kill9_to_zombie_p50_ms', `kill -9 group → zombie_detected p50, adopted workers (n=${adopted.detect_ms.n})`, adopted.detect_ms.p50, 'ms'),
      figure('adopted_kill9_to_zombie_p99_ms', 'kill -9 group → zombie_detected p99, adopted workers', adopted.detect_ms.p99, 'ms', below(loopMs + 1000, 'ms')),
      figure('adopted_kill9_to_running_p99_ms', 'kill -9 group → running again p99, adopted workers', adopted.running_ms.p99, 'ms'),
    ];
    const details = { fleet: fleetSize, loop_interval_ms: loopMs, crash, kill_own_children: kill, kill_adopted: adopted, samples: { crash: crashSamples, kill: killSamples, kill_adopted: adoptedKillSamples } };
    if (adoptedCrashSamples.length > 0) {
      const ac = stats(adoptedCrashSamples);
      details.crash_adopted = ac;
      details.samples.crash_adopted = adoptedCrashSamples;
      figures.push(figure('adopted_crash_to_event_p99_ms', `crash → worker_exited p99, adopted workers (n=${ac.detect_ms.n}; p50 ${ac.detect_ms.p50})`, ac.detect_ms.p99, 'ms'));
      figures.push(figure('adopted_crash_to_running_p50_ms', 'crash → worker_started p50, adopted workers', ac.running_ms.p50, 'ms'));
    }
    return { figures, details };
  } finally {
    if (daemon) await stopDaemonProcess(daemon, 'SIGKILL');
    killMarked();
    removeHome(home);
  }
}
