// Benchmark: the redis queue backend (docs/fleet.md) with two daemons as two hosts on a throwaway
// redis-server: how long a dead host's task takes to run on the other host, how fast two hosts drain the
// shared queue, and what create-task costs on redis against the file queue. Skipped (not failed) when
// redis-server is not installed; installs nothing.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import {
  ActivityTail,
  below,
  benchEnv,
  CLI,
  cpuMsOf,
  figure,
  makeHome,
  median,
  pidsByEnviron,
  queuedTasks,
  readJson,
  removeHome,
  round,
  startDaemonProcess,
  stopDaemonProcess,
  summarize,
  timeLoop,
  waitFor,
  waitForFirstPass,
} from './lib/common.js';

export const name = 'failover';
export const title = 'Redis fleet: failover of a dead host\'s task, dispatch rate to two hosts, create-task on redis vs file';

const LOCK_SECONDS = 4;
const STALLED_INTERVAL_SECONDS = 1;
const GOAL_MS = (LOCK_SECONDS + 2 * STALLED_INTERVAL_SECONDS) * 1000;

export const method = [
  `A throwaway redis-server (no persistence, maxmemory-policy noeviction) on a free loopback port; two daemons as two hosts (\`node dist/cli/main.js pm-daemon --quiet\`, each on its own temp home), pm-daemon.json as test/fleet/support.js fleetConfig but with lock_seconds ${LOCK_SECONDS}, stalled_interval_seconds ${STALLED_INTERVAL_SECONDS}, max_stalled 3 (loop_interval_seconds left at its default, 5 s: a host asks for a pass as soon as it leases a task).`,
  `Failover, each round on a fresh pair of homes and a fresh queue name (so no round inherits a stale spec or a stalled counter): host-a (max_concurrent_workers 2) is started, a long task (a worker that sleeps until stopped) is queued with create-task, and once host-a logged worker_started, host-b (max_concurrent_workers 2, idle) is started and its first pass awaited; then host-a's daemon is SIGKILLed and, at once, the process groups of its workers (the processes whose environ holds COMMIT_RELAY_HOME=<home a> and a COMMIT_RELAY_RUN_ID). Measured from just before the kill to the timestamps of host-b's task_leased and worker_started events. Both daemons are killed after each round (host-a is not restarted: each round starts a new pair). Goal: under lock time + 2 stall-check intervals (${LOCK_SECONDS} + 2 × ${STALLED_INTERVAL_SECONDS} s).`,
  'Dispatch: both hosts running (max_concurrent_workers 8 each, first passes done), M short tasks (a worker `sh -c "exit 0"`) queued at once by one BullMQ Queue.addBulk with the job shape of src/queue/redis.ts (name = worker type, id = task id, data = the task, priority medium = 3, attempts 1, removeOnComplete/removeOnFail count 10,000). Timed from just before addBulk until the queue counts M completed jobs (polled every 20 ms); tasks/s = M / that time. The split between hosts counts each host\'s job_completed events; the peak of leases a host held at once is counted from its task_leased (+1) and job_completed/job_failed (-1) events in order (an end in the same millisecond counted first), and must never exceed its max_concurrent_workers.',
  'create-task: `node dist/cli/main.js create-task` (a new task id each run) from a small sh loop, wall time per run (date +%s%N around each), on a home with the redis backend (no daemon running; the job just waits) and on one with the default file queue.',
];

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

const haveRedis = () => spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** A redis-server on a free loopback port, marked like everything the bench starts (killMarked finds it). */
async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(os.tmpdir(), 'relay-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction'], { stdio: 'ignore', env: benchEnv() });
  const exited = new Promise((r) => child.once('exit', r));
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}) on port ${port}`);
      return spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING'], { encoding: 'utf8', timeout: 5000 }).stdout?.trim() === 'PONG';
    },
    { what: `redis-server on port ${port}`, timeoutMs: 15_000, intervalMs: 50 },
  );
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    version: spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim(),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const TYPES = {
  long: { command: ['sh', '-c', 'while :; do sleep 1; done', 'bench-long'], stop_grace_seconds: 1 },
  short: { command: ['sh', '-c', 'exit 0'], stop_grace_seconds: 1 },
};

function hostConfig(url, queue, hostId, maxConcurrent) {
  return {
    queue: { backend: 'redis', redis_url: url, name: queue, lock_seconds: LOCK_SECONDS, stalled_interval_seconds: STALLED_INTERVAL_SECONDS, max_stalled: 3 },
    host_id: hostId,
    max_concurrent_workers: maxConcurrent,
  };
}

let queueCounter = 0;
const queueName = () => `relay-bench-${process.pid}-${(queueCounter += 1)}`;

/** Pids of a home's workers: their environ names the home and carries a run token (the daemon's does not). */
function workerPids(home) {
  return pidsByEnviron((env) => env.includes(`COMMIT_RELAY_HOME=${home}`) && env.some((e) => e.startsWith('COMMIT_RELAY_RUN_ID=')));
}

/** SIGKILLs the process group of each of a home's workers (the process itself when it has no group of its own). */
function killWorkersOf(home) {
  const pids = workerPids(home);
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  return pids.length;
}

function events(paths) {
  return new ActivityTail(paths.activity).read();
}

async function createTask(home, taskId, type) {
  const out = spawnSync(process.execPath, [CLI, 'create-task', '--description', `bench task ${taskId}`, '--priority', 'medium', '--worker-type', type, '--task-id', taskId], { env: benchEnv({ COMMIT_RELAY_HOME: home }), encoding: 'utf8', timeout: 30_000 });
  if (out.status !== 0) throw new Error(`create-task failed: ${out.stderr}`);
}

/** One failover round on a fresh pair of homes; returns the two times (ms from the kill). */
async function failoverRound(redis, round, log) {
  const queue = queueName();
  const a = await makeHome(`failover-a${round}`, TYPES, hostConfig(redis.url, queue, 'host-a', 2));
  const b = await makeHome(`failover-b${round}`, TYPES, hostConfig(redis.url, queue, 'host-b', 2));
  let daemonA;
  let daemonB;
  try {
    const taskId = `task-failover-${round}`;
    daemonA = await startDaemonProcess(a.paths);
    await createTask(a.home, taskId, 'long');
    const startedA = await waitFor(() => events(a.paths).find((e) => e.event === 'worker_started' && e.task_id === taskId), { what: 'the long task started on host-a', timeoutMs: 30_000, intervalMs: 50 });
    daemonB = await startDaemonProcess(b.paths);
    await waitForFirstPass(b.paths, daemonB, 30_000);
    const leasedA = events(a.paths).find((e) => e.event === 'task_leased' && e.task_id === taskId);
    if (leasedA?.data?.host_id !== 'host-a') throw new Error('host-a did not lease the task');
    // The host dies: its daemon and its workers, at once.
    const killedAt = Date.now();
    daemonA.child.kill('SIGKILL');
    const killedWorkers = killWorkersOf(a.home);
    await daemonA.exited;
    const leasedB = await waitFor(() => events(b.paths).find((e) => e.event === 'task_leased' && e.task_id === taskId), { what: 'host-b to lease the task', timeoutMs: 60_000, intervalMs: 20 });
    const startedB = await waitFor(() => events(b.paths).find((e) => e.event === 'worker_started' && e.task_id === taskId), { what: 'host-b to start the task', timeoutMs: 30_000, intervalMs: 20 });
    const sample = {
      round,
      leased_ms: Date.parse(leasedB.timestamp) - killedAt,
      started_ms: Date.parse(startedB.timestamp) - killedAt,
      host_a_worker_started_to_kill_ms: killedAt - Date.parse(startedA.timestamp),
      host_a_processes_killed: killedWorkers,
      stalled_counter: leasedB.data?.stalled ?? null,
    };
    log(`failover: round ${round}: host-b leased after ${sample.leased_ms} ms, worker_started after ${sample.started_ms} ms`);
    return sample;
  } finally {
    for (const d of [daemonA, daemonB]) if (d) await stopDaemonProcess(d, 'SIGKILL');
    killWorkersOf(a.home);
    killWorkersOf(b.home);
    removeHome(a.home);
    removeHome(b.home);
  }
}

/** The peak of leases a host held at once, from its events (an end in the same millisecond counted first). */
function peakHeld(evts) {
  const steps = [];
  for (const e of evts) {
    if (e.event === 'task_leased') steps.push([Date.parse(e.timestamp), 1]);
    else if (e.event === 'job_completed' || e.event === 'job_failed') steps.push([Date.parse(e.timestamp), -1]);
  }
  steps.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let held = 0;
  let peak = 0;
  for (const [, d] of steps) {
    held += d;
    peak = Math.max(peak, held);
  }
  return peak;
}

/** Per task of one host: lease → worker_started → job_completed, and the gaps between its successive leases (ms). */
function hostTimeline(evts) {
  const at = (event) => new Map(evts.filter((e) => e.event === event).map((e) => [e.task_id, Date.parse(e.timestamp)]));
  const leased = at('task_leased');
  const started = at('worker_started');
  const completed = at('job_completed');
  const leaseToStart = [];
  const startToCompleted = [];
  for (const [task, t] of leased) {
    if (started.has(task)) leaseToStart.push(started.get(task) - t);
    if (started.has(task) && completed.has(task)) startToCompleted.push(completed.get(task) - started.get(task));
  }
  const times = [...leased.values()].sort((x, y) => x - y);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  return { lease_to_worker_started_ms: summarize(leaseToStart, 0), worker_started_to_job_completed_ms: summarize(startToCompleted, 0), gap_between_leases_ms: summarize(gaps, 0) };
}

async function dispatchRun(redis, m, log) {
  const { Queue } = await import('bullmq');
  const name = queueName();
  const maxConcurrent = 8;
  const a = await makeHome('dispatch-a', TYPES, hostConfig(redis.url, name, 'host-a', maxConcurrent));
  const b = await makeHome('dispatch-b', TYPES, hostConfig(redis.url, name, 'host-b', maxConcurrent));
  const queue = new Queue(name, { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null } });
  queue.on('error', () => undefined);
  const daemons = [];
  try {
    daemons.push(await startDaemonProcess(a.paths), await startDaemonProcess(b.paths));
    await Promise.all([waitForFirstPass(a.paths, daemons[0], 30_000), waitForFirstPass(b.paths, daemons[1], 30_000)]);
    const tasks = queuedTasks(m, 'short').tasks;
    const jobs = tasks.map((task) => ({
      name: task.worker_type,
      data: task,
      opts: { jobId: task.task_id, priority: 3, attempts: 1, removeOnComplete: { count: 10_000 }, removeOnFail: { count: 10_000 } },
    }));
    const cpu0 = daemons.map((d) => cpuMsOf(d.pid));
    const t0 = Date.now();
    await queue.addBulk(jobs);
    const addedMs = Date.now() - t0;
    const counts = await waitFor(
      async () => {
        const c = await queue.getJobCounts('completed', 'failed');
        return (c.completed ?? 0) + (c.failed ?? 0) >= m ? c : false;
      },
      { what: `${m} jobs completed`, timeoutMs: 300_000, intervalMs: 20 },
    );
    const totalMs = Date.now() - t0;
    // Each daemon's CPU (utime + stime) over the drain, as % of one core: is the serial take loop CPU-bound?
    const cpuPct = daemons.map((d, i) => round(((cpuMsOf(d.pid) - cpu0[i]) / totalMs) * 100, 1));
    const evA = events(a.paths);
    const evB = events(b.paths);
    const completedBy = (evts) => evts.filter((e) => e.event === 'job_completed').length;
    const firstLeased = Math.min(...[...evA, ...evB].filter((e) => e.event === 'task_leased').map((e) => Date.parse(e.timestamp)));
    const result = {
      tasks: m,
      max_concurrent_workers_each: maxConcurrent,
      add_bulk_ms: addedMs,
      all_completed_ms: totalMs,
      tasks_per_s: round(m / (totalMs / 1000), 1),
      first_leased_ms: firstLeased - t0,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
      by_host: {
        'host-a': { leased: evA.filter((e) => e.event === 'task_leased').length, job_completed: completedBy(evA), peak_leases_held: peakHeld(evA), ...hostTimeline(evA) },
        'host-b': { leased: evB.filter((e) => e.event === 'task_leased').length, job_completed: completedBy(evB), peak_leases_held: peakHeld(evB), ...hostTimeline(evB) },
      },
      daemon_cpu_pct_of_core: { 'host-a': cpuPct[0], 'host-b': cpuPct[1] },
      lease_lost_events: [...evA, ...evB].filter((e) => e.event === 'lease_lost').length,
    };
    log(`failover: dispatch: ${m} tasks completed in ${totalMs} ms (${result.tasks_per_s}/s; addBulk ${addedMs} ms), host-a ${result.by_host['host-a'].job_completed} / host-b ${result.by_host['host-b'].job_completed}, peak leases held ${result.by_host['host-a'].peak_leases_held} / ${result.by_host['host-b'].peak_leases_held}, daemon CPU ${cpuPct[0]}% / ${cpuPct[1]}% of a core`);
    return result;
  } finally {
    for (const d of daemons) await stopDaemonProcess(d, 'SIGKILL');
    killWorkersOf(a.home);
    killWorkersOf(b.home);
    await queue.close().catch(() => undefined);
    removeHome(a.home);
    removeHome(b.home);
  }
}

async function createTaskTimes(redis, runs, log) {
  const r = await makeHome('create-redis', TYPES, hostConfig(redis.url, queueName(), 'host-a', 2));
  const f = await makeHome('create-file', TYPES);
  try {
    const cmd = `'${process.execPath}' '${CLI}' create-task --description 'bench task' --priority medium --worker-type short`;
    const onRedis = await timeLoop(cmd, runs, benchEnv({ COMMIT_RELAY_HOME: r.home }));
    const onFile = await timeLoop(cmd, runs, benchEnv({ COMMIT_RELAY_HOME: f.home }));
    const queued = readJson(f.paths.taskQueue).tasks.length;
    if (queued !== runs) throw new Error(`the file queue holds ${queued} tasks, expected ${runs}`);
    const out = { runs, redis_ms: summarize(onRedis), file_ms: summarize(onFile), redis_samples_ms: onRedis.map((x) => round(x)), file_samples_ms: onFile.map((x) => round(x)) };
    log(`failover: create-task p50 ${out.redis_ms.p50} ms on redis, ${out.file_ms.p50} ms on the file queue (n=${runs})`);
    return out;
  } finally {
    removeHome(r.home);
    removeHome(f.home);
  }
}

export async function run({ quick, log }) {
  if (!haveRedis()) {
    const reason = 'redis-server is not installed (Debian: apt-get install redis-server)';
    log(`failover: SKIPPED: ${reason}`);
    return { figures: [], skipped: reason };
  }
  const rounds = quick ? 3 : 10;
  const m = quick ? 40 : 200;
  const createRuns = quick ? 5 : 10;
  const redis = await startRedis();
  log(`failover: ${redis.version.split(' ').slice(0, 3).join(' ')} on ${redis.url}`);
  try {
    const samples = [];
    for (let i = 1; i <= rounds; i += 1) samples.push(await failoverRound(redis, i, log));
    const leased = samples.map((s) => s.leased_ms);
    const started = samples.map((s) => s.started_ms);
    const dispatch = await dispatchRun(redis, m, log);
    const create = await createTaskTimes(redis, createRuns, log);
    const overSlots = Object.values(dispatch.by_host).some((h) => h.peak_leases_held > dispatch.max_concurrent_workers_each);
    const figures = [
      figure('failover_leased_p50_ms', `host killed → task_leased on the other host, p50 of ${rounds} (lock ${LOCK_SECONDS} s, stall check ${STALLED_INTERVAL_SECONDS} s; samples ${leased.join(', ')})`, median(leased), 'ms', below(GOAL_MS, 'ms')),
      figure('failover_leased_max_ms', `host killed → task_leased on the other host, max of ${rounds}`, Math.max(...leased), 'ms', below(GOAL_MS, 'ms')),
      figure('failover_started_p50_ms', `host killed → worker_started on the other host, p50 of ${rounds} (samples ${started.join(', ')})`, median(started), 'ms'),
      figure('failover_started_max_ms', `host killed → worker_started on the other host, max of ${rounds}`, Math.max(...started), 'ms'),
      figure('dispatch_tasks_per_s', `${m} short tasks (one addBulk) → all completed on two hosts of 8 slots: ${dispatch.all_completed_ms} ms; host-a ${dispatch.by_host['host-a'].job_completed}, host-b ${dispatch.by_host['host-b'].job_completed}`, dispatch.tasks_per_s, 'tasks/s'),
      figure('dispatch_peak_leases_held', `the most leases one host held at once (max_concurrent_workers ${dispatch.max_concurrent_workers_each})`, Math.max(...Object.values(dispatch.by_host).map((h) => h.peak_leases_held)), 'leases', { text: `<= ${dispatch.max_concurrent_workers_each}`, check: () => !overSlots }),
      figure('create_task_redis_p50_ms', `create-task with the redis backend, wall p50 (n=${createRuns})`, create.redis_ms.p50, 'ms'),
      figure('create_task_file_p50_ms', `create-task with the file queue, wall p50 (n=${createRuns})`, create.file_ms.p50, 'ms'),
    ];
    return {
      figures,
      details: {
        redis: redis.version,
        goal_ms: GOAL_MS,
        failover: { rounds, leased_ms: summarize(leased, 0), started_ms: summarize(started, 0), samples },
        dispatch,
        create_task: create,
      },
    };
  } finally {
    await redis.stop();
  }
}
