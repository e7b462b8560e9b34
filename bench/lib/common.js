// Shared pieces of the benchmarks: paths, machine info, statistics, temp homes, spec writers, and the
// cleanup that kills every process a benchmark started (by an environment mark, pid by pid).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = join(ROOT, 'dist');
export const CLI = join(DIST, 'cli', 'main.js');
export const SCRIPTS = join(ROOT, 'scripts');
export const FIXTURES = join(ROOT, 'bench', 'fixtures');
export const RESULTS = join(ROOT, 'bench', 'results');

/**
 * Every process a benchmark starts carries this variable (children inherit it, and so do the workers a
 * daemon starts, since their environment extends the daemon's). Cleanup kills exactly the processes whose
 * /proc/PID/environ holds MARK=<this run's id>: nothing else on the machine is touched.
 */
export const MARK = 'COMMIT_RELAY_BENCH_RUN';

export function runMark() {
  if (!process.env[MARK]) process.env[MARK] = `${process.pid}-${randomBytes(4).toString('hex')}`;
  return process.env[MARK];
}

/** The environment for anything a benchmark spawns: ours, the mark, and no PM_* or WORKER_* settings leaking in. */
export function benchEnv(extra = {}) {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (/^(PM_|WORKER_|COMMIT_RELAY_HOME$|ZOMBIE_THRESHOLD$)/.test(key)) delete env[key];
  return { ...env, [MARK]: runMark(), ...extra };
}

/** Pids (other than this process) whose initial environment (its NAME=value entries) passes the test. */
export function pidsByEnviron(test) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (test(readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0'))) out.push(Number(entry));
    } catch {
      /* gone, or not readable */
    }
  }
  return out;
}

/** Pids (other than this process) whose initial environment holds the mark. */
export function markedPids() {
  const wanted = `${MARK}=${runMark()}`;
  return pidsByEnviron((env) => env.includes(wanted));
}

/** SIGKILLs every marked process until none is left (a dying daemon may have spawned one more). Returns how many. */
export function killMarked() {
  let killed = 0;
  for (let round = 0; round < 10; round += 1) {
    const pids = markedPids();
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed += 1;
      } catch {
        /* already gone */
      }
    }
    sleepSync(20);
  }
  return killed;
}

const homes = new Set();

/** A fresh temp home with its layout and worker-types.json (and pm-daemon.json when given). */
export async function makeHome(name, workerTypes, daemonConfig) {
  const home = mkdtempSync(join(os.tmpdir(), `relay-bench-${name}-`));
  homes.add(home);
  const { homePaths, ensureLayout } = await import(join(DIST, 'store', 'home.js'));
  const paths = homePaths(home);
  ensureLayout(paths);
  writeFileSync(paths.workerTypes, JSON.stringify({ worker_types: workerTypes }, null, 2));
  if (daemonConfig) writeFileSync(paths.daemonConfig, JSON.stringify(daemonConfig, null, 2));
  return { home, paths };
}

export function removeHome(home) {
  if (process.env.BENCH_KEEP_HOMES === '1') return;
  rmSync(home, { recursive: true, force: true });
  homes.delete(home);
}

/** Kills what is left and removes the temp homes: on every way out (normal end, error, SIGINT, SIGTERM). */
export function cleanupAll() {
  const killed = killMarked();
  for (const home of [...homes]) removeHome(home);
  return killed;
}

let handlersInstalled = false;
export function installExitHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}: killing every process it started and removing its temp homes\n`);
      try {
        cleanupAll();
      } finally {
        process.exit(128 + (os.constants.signals[signal] ?? 1));
      }
    });
  }
  process.on('exit', () => {
    try {
      cleanupAll();
    } catch {
      /* best effort on the way out */
    }
  });
}

// ---------- time and statistics ----------

let abortReason = null;

/** Makes every later sleep() and waitFor() of the running benchmark throw: how run.js stops one that overran. */
export function abortBenchmark(reason) {
  abortReason = reason;
}

export function resetAbort() {
  abortReason = null;
}

function checkAborted() {
  if (abortReason !== null) throw new Error(`aborted: ${abortReason}`);
}

export async function sleep(ms) {
  checkAborted();
  await new Promise((r) => setTimeout(r, ms));
  checkAborted();
}

export function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export const round = (x, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** digits) / 10 ** digits);

/** Nearest-rank percentile (p in 0..100) of a list of numbers; p99 of fewer than 100 samples is the maximum. */
/**
 * Wall times (ms) of `cmd` run `runs` times from a small sh loop, each timed with date +%s%N before and after (as
 * hyperfine would: the fork cost of a big node parent is not counted). Throws when a run fails.
 * @param {string} cmd a shell command line (the benchmark's own constants and temp paths only)
 * @param {number} runs
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<number[]>}
 */
export async function timeLoop(cmd, runs, env) {
  const script = `i=0; while [ $i -lt ${runs} ]; do s=$(date +%s%N); ${cmd} >/dev/null 2>&1 || echo FAIL; e=$(date +%s%N); echo $(( (e - s) / 1000 )); i=$((i+1)); done`;
  const out = await new Promise((resolve, reject) =>
    execFile('sh', ['-c', script], { env, maxBuffer: 1 << 20, timeout: 120_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
  if (out.includes('FAIL')) throw new Error(`${cmd} failed`);
  return out.trim().split('\n').map((us) => Number(us) / 1000);
}

export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export const median = (values) => percentile(values, 50);
export const mean = (values) => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);

export function summarize(values, digits = 1) {
  if (values.length === 0) return { n: 0, min: null, p50: null, p90: null, p99: null, max: null, mean: null };
  return {
    n: values.length,
    min: round(Math.min(...values), digits),
    p50: round(percentile(values, 50), digits),
    p90: round(percentile(values, 90), digits),
    p99: round(percentile(values, 99), digits),
    max: round(Math.max(...values), digits),
    mean: round(mean(values), digits),
  };
}

/** Polls fn until truthy; throws after timeoutMs naming what it waited for. */
export async function waitFor(fn, { timeoutMs = 30_000, intervalMs = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    checkAborted();
    let value;
    try {
      value = await fn();
    } catch {
      value = undefined;
    }
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ---------- the machine ----------

export function machineInfo() {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) model = line.split(':')[1].trim();
  } catch {
    /* not Linux */
  }
  return {
    cpus: os.availableParallelism(),
    cpu_model: model,
    cpu_mhz: os.cpus()[0]?.speed ?? null,
    memory_gb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
  };
}

// ---------- /proc readings ----------

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process in ms, or null when it is gone. */
export function cpuMsOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** cutime + cstime of this process in ms: the CPU of the children it has waited for. */
export function childrenCpuMs() {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[13]) + Number(rest[14])) * 1000) / CLK_TCK;
}

/** A field of /proc/PID/status in kB (VmRSS, VmHWM, ...), or null. */
export function statusKb(pid, field) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.split(/\s+/)[1]) : null;
  } catch {
    return null;
  }
}

/** Proportional set size in kB (shared pages divided among their sharers), or null. */
export function pssKb(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n').find((l) => l.startsWith('Pss:'));
    return line ? Number(line.split(/\s+/)[1]) : null;
  } catch {
    return null;
  }
}

export function procStartTicks(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
}

/** When a process started, in ms since the epoch, from its start ticks and the boot time in /proc/stat. */
export function processStartMs(pid) {
  const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
  return Math.round((btime + procStartTicks(pid) / CLK_TCK) * 1000);
}

export const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

/** The pids of the live (non-zombie) processes of a group. */
export function groupMembers(pgid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}

// ---------- files of a home ----------

export const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

export function writeJsonAtomic(file, value) {
  const tmp = `${file}.bench-${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2));
  renameSync(tmp, file);
}

/** A spec as the daemon would have written it. */
export function makeSpec({ id, type, status, taskId = null, createdAt, execution = {} }) {
  return {
    worker_id: id,
    worker_type: type,
    task_id: taskId,
    status,
    created_at: createdAt ?? new Date().toISOString(),
    task: { description: `benchmark worker ${id}` },
    execution: { started_at: null, completed_at: null, pid: null, restart_count: 0, exit_code: null, signal: null, ...execution },
    error: null,
  };
}

/** N queued tasks of one type, written at once as task-queue.json (what N create-task calls would leave). */
export function queuedTasks(n, workerType, now = Date.now()) {
  const tasks = [];
  for (let i = 0; i < n; i += 1) {
    const id = `task-bench-${String(i).padStart(5, '0')}`;
    tasks.push({
      task_id: id,
      description: `benchmark task ${i}`,
      priority: 'medium',
      worker_type: workerType,
      status: 'queued',
      created_at: new Date(now + i).toISOString(),
      metadata: {},
      worker_id: null,
      assigned_at: null,
      completed_at: null,
      error: null,
    });
  }
  return { tasks };
}

export const workerIdFor = (taskId, type) => `worker-${type}-${taskId.slice(5)}`;

/** Reads pm-activity.jsonl incrementally: each call returns the events appended since the last. */
export class ActivityTail {
  constructor(file) {
    this.file = file;
    this.offset = 0;
    this.partial = '';
  }
  read() {
    let fd;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return [];
    }
    try {
      const chunks = [];
      const buffer = Buffer.alloc(1 << 20);
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        chunks.push(buffer.toString('utf8', 0, n));
      }
      const text = this.partial + chunks.join('');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      return lines.filter(Boolean).map((l) => JSON.parse(l));
    } finally {
      closeSync(fd);
    }
  }
}

// ---------- processes ----------

/**
 * Starts `pm-daemon --quiet` on a home; resolves once it has claimed the home (its pid file names it).
 * Not pm-state.json: that is written at the end of the first pass, which may start hundreds of workers.
 */
export async function startDaemonProcess(paths, env = {}, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'pm-daemon', '--quiet'], {
    env: benchEnv({ COMMIT_RELAY_HOME: paths.home, ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`daemon exited early (${child.exitCode}): ${stderr}`);
      try {
        return readJson(paths.daemonPidFile).pid === child.pid;
      } catch {
        return false;
      }
    },
    { what: 'the daemon to claim the home', timeoutMs: 60_000 },
  ).catch((error) => {
    throw new Error(`${error.message}; stderr: ${stderr}`);
  });
  return { child, pid: child.pid, exited, stderr: () => stderr };
}

/** Waits until the daemon's first pass wrote pm-state.json (then it starts watching the home). */
export async function waitForFirstPass(paths, daemon, timeoutMs = 240_000) {
  await waitFor(() => readJson(paths.pmState).pm_daemon.pid === daemon.pid, { timeoutMs, intervalMs: 50, what: 'the daemon\'s first pass' });
}

export async function stopDaemonProcess(daemon, signal = 'SIGTERM', timeoutMs = 30_000) {
  if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) return daemon.exited;
  daemon.child.kill(signal);
  const timer = setTimeout(() => daemon.child.kill('SIGKILL'), timeoutMs);
  const result = await daemon.exited;
  clearTimeout(timer);
  return result;
}

/** Writes a line to a FIFO only if a reader has it open (O_NONBLOCK: ENXIO otherwise); never blocks. */
export function writeFifo(file, text) {
  let fd;
  try {
    fd = openSync(file, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (error) {
    if (error.code === 'ENXIO' || error.code === 'ENOENT') return false;
    throw error;
  }
  try {
    writeSync(fd, text);
    return true;
  } catch (error) {
    if (error.code === 'EAGAIN' || error.code === 'EPIPE') return false;
    throw error;
  } finally {
    closeSync(fd);
  }
}

/** Lines "kind worker restart ns" that the bench fixtures append to <ctl>/events.log. */
export function readFixtureLog(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [kind, worker, restart, ns] = line.split(' ');
      return { kind, worker, restart: Number(restart), ms: Number(BigInt(ns) / 1000n) / 1000 };
    });
}

export function ensureDir(dir) {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A figure of a benchmark: its value, unit, and the goal it is held to (when it has one). */
export function figure(id, label, value, unit, goal) {
  const out = { id, label, value, unit };
  if (goal !== undefined) {
    out.goal = goal.text;
    out.goal_met = value === null ? false : goal.check(value);
  }
  return out;
}

export const below = (limit, unit) => ({ text: `< ${limit} ${unit}`, check: (v) => v < limit });
export const equals = (expected) => ({ text: `= ${expected}`, check: (v) => v === expected });

/**
 * The daemon in this process, as pm-daemon runs it (its settings from the home and `flags`, the file logger, the pass
 * hooks that keep the alerts), with `onPass` told of each pass's report first. `flush` writes out the log.
 */
export async function inProcessDaemon(paths, flags, onPass) {
  const { Daemon } = await import(join(DIST, 'daemon', 'daemon.js'));
  const { createFileLogger } = await import(join(DIST, 'log.js'));
  const { createPassHooks } = await import(join(DIST, 'daemon', 'alerts-and-metrics.js'));
  const { loadDaemonSettings } = await import(join(DIST, 'config', 'load.js'));
  const settings = loadDaemonSettings(paths, {}, flags);
  const { logger, flush } = createFileLogger(paths.daemonLog, settings.logLevel);
  const inner = createPassHooks(paths, settings, logger);
  const hooks = {
    afterPass: (report) => {
      onPass(report);
      return inner.afterPass?.(report);
    },
    beforeStop: () => inner.beforeStop?.(),
  };
  return { daemon: new Daemon({ paths, env: {}, flags, logger, hooks }), flush };
}
