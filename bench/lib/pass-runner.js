// One daemon-pass scenario in a fresh node process (so the cold pass is really cold: no JIT warm-up from
// an earlier size). Usage: node bench/lib/pass-runner.js '{"kind":"pending","n":1000,"passes":20}'
// Prints one JSON line with the figures on stdout.
//
// kinds:
//   pending  N specs waiting in backoff (restart_count 1, next_restart_at a day away), each with an old
//            check-in, and max_concurrent_workers 0: the daemon decides every pass but has nothing to do.
//   live     N running specs whose processes are real `sleep` processes started here (pid, start ticks and
//            boot id recorded as the spawner records them, the run's token in their environment), each with a
//            fresh check-in: all healthy.
// churn: before each steady pass, this many check-in files are rewritten (a new timestamp and progress),
// outside the timed window, so the pass reads, parses and reports them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { benchEnv, bootId, cleanupAll, inProcessDaemon, installExitHandlers, makeHome, makeSpec, procStartTicks, RESULTS, round, summarize, writeJsonAtomic } from './common.js';
import { summarizeProfile } from './profile.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const { kind = 'pending', n = 1000, passes = 20, churn = 0, profile = false } = cfg;

installExitHandlers();

const TYPE = 'bench';
const { paths } = await makeHome(`pass-${kind}-${n}`, {
  [TYPE]: {
    command: ['sleep', '3600'],
    time_limit_seconds: 0,
    checkin_timeout_seconds: 86_400,
    stall_timeout_seconds: 172_800,
    startup_grace_seconds: 86_400,
    max_restarts: 5,
  },
});

const boot = bootId();
const now = Date.now();
const iso = (ms) => new Date(ms).toISOString();
const ids = Array.from({ length: n }, (_, i) => `bench-${kind}-${String(i).padStart(5, '0')}`);
const sleepers = [];

function writeCheckin(id, runId, progress, at = Date.now()) {
  const file = paths.checkinFile(id);
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ worker_id: id, timestamp: iso(at), status: 'in_progress', progress_pct: progress, message: `step ${progress}`, run_id: runId })}\n`);
  // rename, as a worker does: a new inode, so the observer sees a change even within one mtime tick
  renameSync(`${file}.tmp`, file);
}

const setupStarted = performance.now();
// One small sh starts the sleepers: node's own spawn costs 15-25 ms a process on a VM with a 100 MB heap.
if (kind === 'live') {
  // Each carries its run's token, as every process of a run does (the daemon checks it before calling a process the run's).
  const out = execFileSync('sh', ['-c', `i=0; while [ $i -lt ${n} ]; do COMMIT_RELAY_RUN_ID=run-bench-$i sleep 3600 </dev/null >/dev/null 2>&1 & echo $!; i=$((i+1)); done`], { env: benchEnv(), encoding: 'utf8' });
  sleepers.push(...out.trim().split('\n').map(Number));
}
const runIds = new Map();
for (const [i, id] of ids.entries()) {
  const runId = `run-bench-${i}`;
  runIds.set(id, runId);
  let spec;
  if (kind === 'pending') {
    spec = makeSpec({
      id,
      type: TYPE,
      status: 'pending',
      createdAt: iso(now - 3_600_000),
      execution: {
        started_at: iso(now - 1_800_000),
        pid: null,
        restart_count: 1,
        exit_code: 3,
        run_id: runId,
        last_exit_at: iso(now - 60_000),
        next_restart_at: iso(now + 86_400_000),
      },
    });
    spec.error = 'exited with code 3';
  } else {
    const pid = sleepers[i];
    spec = makeSpec({
      id,
      type: TYPE,
      status: 'running',
      createdAt: iso(now - 600_000),
      execution: { started_at: iso(now - 300_000), pid, process_start_ticks: procStartTicks(pid), boot_id: boot, host: 'bench', run_id: runId, restart_count: 0, timeout_warnings: [] },
    });
  }
  writeJsonAtomic(paths.specFile('active', id), spec);
  writeCheckin(id, runId, 10, kind === 'pending' ? now - 120_000 : now - 1000);
}
const setupMs = performance.now() - setupStarted;

const reports = [];
const { daemon, flush } = await inProcessDaemon(paths, { maxConcurrentWorkers: 0 }, (r) => {
  reports.push({ passMs: r.passMs, cpuMs: r.cpuMs, actions: r.plan.actions.length, events: r.plan.events.length + r.observation.newCheckins.length, workers: r.observation.workers.length });
});

async function measure(fn) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

let session;
const profiles = {};
async function startProfile() {
  if (!profile) return;
  if (session === undefined) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
  }
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
}
async function stopProfile(name) {
  if (!profile) return;
  const { profile: data } = await session.post('Profiler.stop');
  const dir = join(RESULTS, 'profiles');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `pass-${kind}-${n}${churn ? `-churn${churn}` : ''}-${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(data));
  profiles[name] = { file, top: summarizeProfile(data, 15) };
}

let result;
try {
  await startProfile();
  const cold = await measure(() => daemon.start({ watch: false }));
  await stopProfile('cold');
  const coldPass = reports[0];
  const steady = [];
  await startProfile();
  for (let i = 0; i < passes; i += 1) {
    if (churn > 0) {
      for (let k = 0; k < churn; k += 1) {
        // distinct workers within a pass, spread over the fleet from one pass to the next
        const id = ids[(i * churn * 7 + k * 13) % ids.length];
        writeCheckin(id, runIds.get(id), 11 + (i % 80));
      }
    }
    const m = await measure(() => daemon.runPass());
    const report = reports[reports.length - 1];
    steady.push({ ...m, innerCpuMs: report.cpuMs, actions: report.actions, events: report.events, workers: report.workers });
  }
  await stopProfile('steady');
  const mem = process.memoryUsage();
  result = {
    kind,
    n,
    churn,
    setup_ms: round(setupMs),
    cold: { wall_ms: round(cold.wallMs), cpu_ms: round(cold.cpuMs), pass_wall_ms: round(coldPass?.passMs), pass_cpu_ms: round(coldPass?.cpuMs), workers: coldPass?.workers, events: coldPass?.events },
    steady: {
      wall_ms: summarize(steady.map((s) => s.wallMs)),
      cpu_ms: summarize(steady.map((s) => s.cpuMs)),
      inner_cpu_ms: summarize(steady.map((s) => s.innerCpuMs)),
      actions: steady.reduce((a, s) => a + s.actions, 0),
      events: steady.reduce((a, s) => a + s.events, 0),
      workers: steady[0]?.workers ?? null,
    },
    rss_mb: round(mem.rss / 2 ** 20),
    heap_used_mb: round(mem.heapUsed / 2 ** 20),
    profiles,
  };
  await daemon.stop('bench');
  flush();
} finally {
  for (const pid of sleepers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  cleanupAll();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
