// N queued tasks to N workers running their first line, through a real daemon started as operators start it
// (scripts/pm-daemon.sh), with the peers benchmark's worker (bench/fixtures/peer.sh); prints the wall time, the
// daemon's own CPU (from /proc at the end) and when the workers came up. Usage: node bench/lib/start-runner.js [N]
// (COMMIT_RELAY_ROOT=DIR runs another checkout's build, for a before/after.)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { benchEnv, killMarked, makeHome, queuedTasks, removeHome, ROOT, stopDaemonProcess, waitFor, workerIdFor, writeJsonAtomic } from './common.js';

const n = Number(process.argv[2] ?? 100);
const root = process.env.COMMIT_RELAY_ROOT ?? ROOT;
const outDir = join(`/tmp`, `start-runner-${process.pid}`);
mkdirSync(outDir, { recursive: true });
const TYPE = 'peer';
const command = ['bash', join(ROOT, 'bench', 'fixtures', 'peer.sh'), join(outDir, '{worker_id}.log')];
const { home, paths } = await makeHome('start-runner', { [TYPE]: { command, restart_backoff_seconds: 0, max_restarts: 1_000_000, checkin_timeout_seconds: 3600, stall_timeout_seconds: 7200, time_limit_seconds: 86_400 } }, { max_concurrent_workers: n });
writeJsonAtomic(paths.taskQueue, queuedTasks(n, TYPE));
const ids = queuedTasks(n, TYPE).tasks.map((t) => workerIdFor(t.task_id, TYPE));
const firstLine = (id) => {
  const file = join(outDir, `${id}.log`);
  const line = existsSync(file) ? readFileSync(file, 'utf8').split('\n')[0] : '';
  return line ? Number(line.split(' ')[1]) * 1000 : undefined;
};
const t0 = Date.now();
const child = spawn('/bin/sh', [join(root, 'scripts', 'pm-daemon.sh'), '--quiet'], { env: benchEnv({ COMMIT_RELAY_HOME: home }), stdio: ['ignore', 'ignore', 'inherit'] });
const daemon = { child, pid: child.pid, exited: new Promise((resolve) => child.once('exit', resolve)) };
try {
  await waitFor(() => ids.every((id) => firstLine(id) !== undefined), { timeoutMs: 120_000, intervalMs: 50, what: `${n} workers up` });
  const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ups = ids.map((id) => (firstLine(id) ?? 0) - t0).sort((a, b) => a - b);
  const events = readFileSync(paths.activity, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const pmStarted = events.find((e) => e.event === 'pm_started');
  const pct = (p) => Math.round(ups[Math.min(ups.length - 1, Math.floor((p / 100) * ups.length))]);
  // utime + stime in clock ticks (100 a second on Linux).
  process.stdout.write(`${JSON.stringify({ n, all_up_ms: pct(100), up_p50_ms: pct(50), pm_started_ms: Date.parse(pmStarted.timestamp) - t0, daemon_cpu_ms: (Number(stat[11]) + Number(stat[12])) * 10 })}\n`);
} finally {
  await stopDaemonProcess(daemon);
  killMarked();
  removeHome(home);
  rmSync(outDir, { recursive: true, force: true });
}
