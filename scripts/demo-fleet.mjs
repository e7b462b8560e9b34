#!/usr/bin/env node
// npm run demo:fleet — a fleet on one machine: a throwaway redis-server on a free loopback port, two daemons
// as two hosts (two temp homes), demo tasks on the shared queue; then host-a is killed (daemon and workers,
// SIGKILL) and its task moves to host-b. Needs redis-server (Debian: apt-get install redis-server).
// Everything it starts is stopped at the end (or on Ctrl-C); the temp homes are removed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const started = [];
const homes = [];
let redisDir;

const say = (line) => process.stdout.write(`${new Date().toISOString().slice(11, 23)}  ${line}\n`);
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function events(home) {
  try {
    return readFileSync(join(home, 'coordination', 'pm-activity.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

function makeHost(url, name, hostId) {
  const home = mkdtempSync(join(tmpdir(), `relay-fleet-${hostId}-`));
  homes.push(home);
  mkdirSync(join(home, 'coordination', 'config'), { recursive: true });
  const types = { demo: { command: ['sh', '-c', 'echo "working on $TASK_ID"; sleep 6; echo done', 'demo-agent'], stop_grace_seconds: 1 } };
  writeFileSync(join(home, 'coordination', 'config', 'worker-types.json'), JSON.stringify({ worker_types: types }, null, 2));
  const config = { queue: { backend: 'redis', redis_url: url, name, lock_seconds: 4, stalled_interval_seconds: 1, max_stalled: 3 }, host_id: hostId, max_concurrent_workers: 2, loop_interval_seconds: 1 };
  writeFileSync(join(home, 'coordination', 'config', 'pm-daemon.json'), JSON.stringify(config, null, 2));
  return home;
}

function startDaemon(home, hostId) {
  const child = spawn(process.execPath, [CLI, 'pm-daemon', '--quiet'], { env: { ...process.env, COMMIT_RELAY_HOME: home, COMMIT_RELAY_HOST_ID: hostId }, stdio: ['ignore', 'ignore', 'inherit'] });
  started.push(child);
  return child;
}

function cli(home, args) {
  const out = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, COMMIT_RELAY_HOME: home }, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${args[0]} failed: ${out.stderr.trim()}`);
  return out.stdout;
}

/** Workers of a home: processes whose environment names the home and carries a run token. */
function workerPids(home) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (env.includes(`COMMIT_RELAY_HOME=${home}`) && env.some((e) => e.startsWith('COMMIT_RELAY_RUN_ID='))) pids.push(Number(name));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}

function killAll(signal = 'SIGKILL') {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  for (const home of homes) for (const pid of workerPids(home)) {
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
}

async function main() {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    process.stderr.write('demo:fleet needs redis-server (Debian: apt-get install redis-server)\n');
    process.exit(2);
  }
  const port = await freePort();
  redisDir = mkdtempSync(join(tmpdir(), 'relay-fleet-redis-'));
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir, '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  started.push(redis);
  const url = `redis://127.0.0.1:${port}`;
  await until('redis-server', () => spawnSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' }).stdout?.trim() === 'PONG');
  say(`redis-server on ${url}`);
  const name = 'demo-fleet';
  const a = makeHost(url, name, 'host-a');
  const b = makeHost(url, name, 'host-b');
  for (const [i, priority] of ['critical', 'high', 'medium', 'low'].entries()) {
    const id = cli(a, ['create-task', '--description', `demo task ${i + 1}`, '--priority', priority, '--worker-type', 'demo', '--task-id', `task-demo-${i + 1}`]).trim();
    say(`queued ${id} (${priority}) on the shared queue`);
  }
  const daemonA = startDaemon(a, 'host-a');
  await until('host-a to start a worker', () => events(a).some((e) => e.event === 'worker_started'));
  startDaemon(b, 'host-b');
  say('host-a and host-b are running; each takes up to 2 tasks');
  await until('host-b to start a worker', () => events(b).some((e) => e.event === 'worker_started'));
  process.stdout.write(cli(b, ['daemon-monitor', '--fleet']));
  const running = events(a).filter((e) => e.event === 'task_leased').map((e) => e.task_id);
  say(`killing host-a (daemon pid ${daemonA.pid} and its workers) while it runs ${running.join(', ')}`);
  const killedAt = Date.now();
  daemonA.kill('SIGKILL');
  for (const pid of workerPids(a)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const moved = await until('host-b to take host-a\'s task', () => events(b).find((e) => e.event === 'task_leased' && running.includes(e.task_id)), 60_000);
  say(`host-b took ${moved.task_id} ${((Date.parse(moved.timestamp) - killedAt) / 1000).toFixed(1)} s after host-a died (its lock of 4 s expired, a stall check put the task back, and host-b had a free slot)`);
  await until('every task to complete', () => {
    const done = new Set([...events(a), ...events(b)].filter((e) => e.event === 'job_completed').map((e) => e.task_id));
    return ['task-demo-1', 'task-demo-2', 'task-demo-3', 'task-demo-4'].every((id) => done.has(id));
  }, 90_000);
  for (const e of [...events(a), ...events(b)].filter((x) => ['task_leased', 'job_completed'].includes(x.event)).sort((x, y) => x.timestamp.localeCompare(y.timestamp))) {
    process.stdout.write(`${e.timestamp.slice(11, 23)}  ${e.event.padEnd(14)} ${e.task_id} on ${e.data.host_id}\n`);
  }
  process.stdout.write(cli(b, ['daemon-monitor', '--fleet']));
  say('every task completed; host-a is listed as lost. Stopping everything.');
}

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
try {
  await main();
} catch (error) {
  process.stderr.write(`demo:fleet: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  killAll('SIGTERM');
  await delay(300);
  killAll();
  for (const home of homes) rmSync(home, { recursive: true, force: true });
  if (redisDir !== undefined) rmSync(redisDir, { recursive: true, force: true });
}
