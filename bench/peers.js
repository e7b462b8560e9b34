// Benchmark: commit-relay side by side with PM2 (the devDependency, never installed at run time), on the same
// machine, in one run, alternating, with the same worker (bench/fixtures/peer.sh).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  benchEnv,
  SCRIPTS,
  figure,
  FIXTURES,
  killMarked,
  makeHome,
  MARK,
  queuedTasks,
  removeHome,
  ROOT,
  round,
  runMark,
  sleep,
  statusKb,
  stopDaemonProcess,
  summarize,
  waitFor,
  workerIdFor,
  writeJsonAtomic,
} from './lib/common.js';

export const name = 'peers';
export const title = 'Side by side with PM2: restart, 100 workers started, memory';

const PM2_BIN = join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');
const FIXTURE = join(FIXTURES, 'peer.sh');
const TYPE = 'peer';

export const method = [
  `PM2 ${pm2Version()} (the devDependency, node_modules/pm2) with its own PM2_HOME in the benchmark's temp folder, killed (\`pm2 kill\`, then every process the benchmark marked) at the end; commit-relay's daemon (node dist/cli/main.js pm-daemon --quiet) on a temp home. Both on this machine, in one run, one after the other in alternating order.`,
  'The worker, the same for both: bench/fixtures/peer.sh, a bash script that appends "PID EPOCHREALTIME" (bash\'s own clock: no process is started to read it) to a file, then `exec sleep` (same pid). PM2 runs it as an app (interpreter bash, autorestart, restart_delay 0, max_restarts 1e6); commit-relay as a worker type (command bash peer.sh FILE, restart_backoff_seconds 0, max_restarts 1e6) inside its usual shim and log pipe.',
  'Restart: one worker each, running side by side (and a third, the floor: bench/fixtures/bare-supervisor.mjs, a Node process that only respawns the worker the moment it exits); SIGKILL of the worker\'s process (the pid it wrote, checked to be our `sleep`), timed just before the kill (performance.timeOrigin + performance.now(), the same wall clock), to the new process\'s first line (its EPOCHREALTIME); the two systems alternate, a random 250-500 ms apart.',
  '100 workers started: from nothing (no supervisor running) to the 100th worker\'s first line. PM2: `pm2 start` of an ecosystem file with 100 apps (the CLI starts its daemon); commit-relay: the daemon started on a home with 100 queued tasks and max_concurrent_workers 100 (it turns each task into a spec, records the launch, then starts it).',
  'Memory: the supervisor\'s resident set (VmRSS of PM2\'s God daemon, of commit-relay\'s daemon) with those 100 idle workers, the median of 5 samples 1 s apart after a 5 s settle. The worker processes themselves are not counted for either.',
  'Ratios are commit-relay / PM2 of the medians (p50); below 1 is faster or smaller. Every sample is in details.',
];

function pm2Version() {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', 'pm2', 'package.json'), 'utf8')).version;
  } catch {
    return '(not installed)';
  }
}

const execFileAsync = promisify(execFile);
const nowMs = () => performance.timeOrigin + performance.now();

/** The fixture's lines in FILE: {pid, ms}. */
function fixtureLines(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => /^\d+ \d+\.\d+$/.test(line))
    .map((line) => {
      const [pid, time] = line.split(' ');
      return { pid: Number(pid), ms: Number(time) * 1000 };
    });
}

/** SIGKILLs the fixture's process, after checking it is our marked `sleep` (never a stranger that reused the pid). */
function killFixture(pid, mark) {
  const environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  if (!environ.includes(mark) || !cmdline.startsWith('sleep\0')) throw new Error(`pid ${pid} is not the benchmark's worker`);
  const t = nowMs();
  process.kill(pid, 'SIGKILL');
  return t;
}


class Pm2 {
  constructor(dir) {
    this.dir = dir;
    this.home = join(dir, 'pm2-home');
    this.env = benchEnv({ PM2_HOME: this.home });
  }

  async cli(args) {
    const { stdout } = await execFileAsync(process.execPath, [PM2_BIN, ...args], { env: this.env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  }

  ecosystem(names, outDir) {
    const file = join(this.dir, 'ecosystem.json');
    const apps = names.map((n) => ({
      name: n,
      script: FIXTURE,
      interpreter: 'bash',
      args: [join(outDir, `${n}.log`)],
      autorestart: true,
      restart_delay: 0,
      max_restarts: 1_000_000,
      min_uptime: 0,
    }));
    writeFileSync(file, JSON.stringify({ apps }, null, 2));
    return file;
  }

  daemonPid() {
    return Number(readFileSync(join(this.home, 'pm2.pid'), 'utf8').trim());
  }

  async kill() {
    if (existsSync(join(this.home, 'pm2.pid'))) await this.cli(['kill']).catch(() => undefined);
  }
}

/** commit-relay's daemon on a fresh home with N queued tasks of the peer type. */
async function oursHome(n, outDir) {
  const { home, paths } = await makeHome(
    'peers',
    {
      [TYPE]: {
        command: ['bash', FIXTURE, join(outDir, '{worker_id}.log')],
        restart_backoff_seconds: 0,
        max_restarts: 1_000_000,
        checkin_timeout_seconds: 3600,
        stall_timeout_seconds: 7200,
        time_limit_seconds: 86_400,
      },
    },
    { max_concurrent_workers: n },
  );
  writeJsonAtomic(paths.taskQueue, queuedTasks(n, TYPE));
  const ids = queuedTasks(n, TYPE).tasks.map((t) => workerIdFor(t.task_id, TYPE));
  return { home, paths, ids };
}

function spawnDaemon(paths) {
  // As operators start it (scripts/pm-daemon.sh: exec node with the daemon's flags, same pid).
  const child = spawn('/bin/sh', [join(SCRIPTS, 'pm-daemon.sh'), '--quiet'], { env: benchEnv({ COMMIT_RELAY_HOME: paths.home }), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, pid: child.pid, exited, stderr: () => stderr };
}

/** Waits until every file has a first line; returns the latest first line's time. */
async function allUp(files, what) {
  let last = 0;
  await waitFor(
    () => {
      last = 0;
      for (const file of files) {
        const first = fixtureLines(file)[0];
        if (first === undefined) return false;
        last = Math.max(last, first.ms);
      }
      return true;
    },
    { timeoutMs: 120_000, intervalMs: 20, what },
  );
  return last;
}

async function rssMb(pid) {
  await sleep(5000);
  const samples = [];
  for (let i = 0; i < 5; i += 1) {
    samples.push(statusKb(pid, 'VmRSS') / 1024);
    await sleep(1000);
  }
  return summarize(samples).p50;
}

async function startPm2(dir, n) {
  const pm2 = new Pm2(join(dir, `pm2-${Date.now()}`));
  const outDir = join(pm2.dir, 'out');
  mkdirSync(outDir, { recursive: true });
  const names = Array.from({ length: n }, (_, i) => `w${String(i).padStart(3, '0')}`);
  const eco = pm2.ecosystem(names, outDir);
  try {
    const t0 = nowMs();
    const started = pm2.cli(['start', eco]);
    const last = await allUp(names.map((x) => join(outDir, `${x}.log`)), `PM2's ${n} workers`);
    await started;
    const ms = last - t0;
    const rss = await rssMb(pm2.daemonPid());
    return { ms, rss };
  } finally {
    await pm2.kill();
    killMarked();
  }
}

async function startOurs(dir, n) {
  const outDir = join(dir, `ours-${Date.now()}`);
  mkdirSync(outDir, { recursive: true });
  const { home, paths, ids } = await oursHome(n, outDir);
  const t0 = nowMs();
  const daemon = spawnDaemon(paths);
  try {
    const last = await allUp(ids.map((id) => join(outDir, `${id}.log`)), `commit-relay's ${n} workers`).catch((error) => {
      throw new Error(`${error.message}; daemon stderr: ${daemon.stderr()}`);
    });
    const ms = last - t0;
    const rss = await rssMb(daemon.pid);
    return { ms, rss };
  } finally {
    await stopDaemonProcess(daemon);
    killMarked();
    removeHome(home);
  }
}

async function restarts(dir, samples, log) {
  const mark = `${MARK}=${runMark()}`;
  const pm2 = new Pm2(join(dir, 'pm2-restart'));
  const pm2Out = join(pm2.dir, 'out');
  mkdirSync(pm2Out, { recursive: true });
  const oursOut = join(dir, 'ours-restart');
  mkdirSync(oursOut, { recursive: true });
  const { home, paths, ids } = await oursHome(1, oursOut);
  const daemon = spawnDaemon(paths);
  const bareOut = join(dir, 'bare-restart.log');
  // The floor: a Node process that only respawns the worker when it exits (bench/fixtures/bare-supervisor.mjs).
  const bare = spawn(process.execPath, [join(FIXTURES, 'bare-supervisor.mjs'), 'bash', FIXTURE, bareOut], { env: benchEnv(), stdio: 'ignore' });
  const sides = {
    pm2: { file: join(pm2Out, 'w000.log'), samples: [] },
    ours: { file: join(oursOut, `${ids[0]}.log`), samples: [] },
    bare: { file: bareOut, samples: [] },
  };
  try {
    await pm2.cli(['start', pm2.ecosystem(['w000'], pm2Out)]);
    await allUp([sides.pm2.file, sides.ours.file, sides.bare.file], 'one worker each');
    await sleep(1000);
    for (let i = 0; i < samples; i += 1) {
      for (const key of i % 2 === 0 ? ['pm2', 'ours', 'bare'] : ['bare', 'ours', 'pm2']) {
        const side = sides[key];
        const before = fixtureLines(side.file);
        const t = killFixture(before.at(-1).pid, mark);
        const after = await waitFor(() => {
          const lines = fixtureLines(side.file);
          return lines.length > before.length ? lines.at(-1) : false;
        }, { timeoutMs: 30_000, intervalMs: 5, what: `${key}'s restart` });
        side.samples.push(round(after.ms - t, 2));
        await sleep(250 + Math.random() * 250);
      }
    }
    log(`restart p50: PM2 ${summarize(sides.pm2.samples).p50} ms, commit-relay ${summarize(sides.ours.samples).p50} ms, a bare Node respawn ${summarize(sides.bare.samples).p50} ms`);
    return { pm2: sides.pm2.samples, ours: sides.ours.samples, bare: sides.bare.samples };
  } finally {
    bare.kill('SIGKILL');
    await pm2.kill();
    await stopDaemonProcess(daemon);
    killMarked();
    removeHome(home);
  }
}

const atMost = (limit) => ({ text: `≤ ${limit}`, check: (v) => v <= limit });

export async function run({ quick, log }) {
  if (!existsSync(PM2_BIN)) return { skipped: 'pm2 is not installed (npm ci installs it: a devDependency)' };
  const { home: dir } = await makeHome('peers-root', {});
  try {
    const restartSamples = quick ? 10 : 30;
    const rounds = quick ? 1 : 3;
    const n = 100;
    const restart = await restarts(dir, restartSamples, log);
    const start = { pm2: [], ours: [] };
    const rss = { pm2: [], ours: [] };
    for (let r = 0; r < rounds; r += 1) {
      for (const key of r % 2 === 0 ? ['pm2', 'ours'] : ['ours', 'pm2']) {
        const outcome = key === 'pm2' ? await startPm2(dir, n) : await startOurs(dir, n);
        start[key].push(round(outcome.ms, 1));
        rss[key].push(round(outcome.rss, 1));
        log(`${n} started: ${key} ${round(outcome.ms)} ms, supervisor RSS ${round(outcome.rss)} MB`);
      }
    }
    const p50 = (list) => summarize(list).p50;
    const ratio = (a, b) => round(a / b, 2);
    const figures = [
      figure('restart_p50_ms', `SIGKILL of the worker → its new process runs its first line, commit-relay p50 (n=${restartSamples}; PM2 ${p50(restart.pm2)} ms)`, p50(restart.ours), 'ms'),
      figure('restart_ratio', `restart p50, commit-relay / PM2 (${p50(restart.ours)} / ${p50(restart.pm2)} ms)`, ratio(p50(restart.ours), p50(restart.pm2)), '×', atMost(0.8)),
      figure('restart_floor_p50_ms', 'the same for a bare Node process that only respawns the worker on exit (the floor of a Node supervisor: its exit event and spawn), p50', p50(restart.bare), 'ms'),
      figure('start100_ms', `${n} workers from nothing to all running, commit-relay median of ${rounds} (PM2 ${p50(start.pm2)} ms)`, p50(start.ours), 'ms'),
      figure('start100_ratio', `${n} workers started, commit-relay / PM2 (${p50(start.ours)} / ${p50(start.pm2)} ms)`, ratio(p50(start.ours), p50(start.pm2)), '×', atMost(0.8)),
      figure('rss100_mb', `supervisor's resident memory with ${n} idle workers, commit-relay (PM2 ${p50(rss.pm2)} MB)`, p50(rss.ours), 'MB'),
      figure('rss100_ratio', `supervisor memory with ${n} idle workers, commit-relay / PM2 (${p50(rss.ours)} / ${p50(rss.pm2)} MB)`, ratio(p50(rss.ours), p50(rss.pm2)), '×', atMost(1)),
    ];
    return {
      figures,
      details: {
        pm2_version: pm2Version(),
        load_average_end: os.loadavg().map((l) => round(l, 2)),
        restart_ms: { pm2: restart.pm2, ours: restart.ours, bare: restart.bare, pm2_summary: summarize(restart.pm2), ours_summary: summarize(restart.ours), bare_summary: summarize(restart.bare) },
        start100_ms: start,
        rss100_mb: rss,
      },
    };
  } finally {
    removeHome(dir);
  }
}
