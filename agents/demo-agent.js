#!/usr/bin/env node
// The demo agent: the program of the `demo` worker type. Plain JS, no build, no dependencies.
//
//   node agents/demo-agent.js [--worker-id ID] --task TEXT [--steps N] [--interval S]
//        [--crash-on-first-run] [--crash-at PCT] [--hang] [--ignore-sigterm] [--fork-grandchild]
//        [--rate-limit-once] [--resume SESSION_ID]
//
// It works through N steps, checking in with its progress (scripts/checkin.sh) every S seconds,
// then checks in "completed" and exits 0. The flags make it show each failure mode:
//   --crash-on-first-run  exit 1 at 50% on the first run only (COMMIT_RELAY_RESTART_COUNT is "0"),
//                         so a restart succeeds
//   --crash-at PCT        exit 1 once progress reaches PCT, on every run (restarts run out: failed/)
//   --hang                check in once, then fall silent and never finish (late, then stalled)
//   --ignore-sigterm      ignore SIGTERM, so a stop needs SIGKILL after the grace period
//   --fork-grandchild     start a child process that must die with the worker's process group
//   --rate-limit-once     behave as an agent that hits its provider's usage limit: unless resumed, print Claude
//                         Code's line "Claude AI usage limit reached|<reset, epoch seconds>" (the reset 8 s ahead) and exit 1
//   --resume SESSION_ID   resume that session (as `claude --resume`): go on from it instead of a new one
//
// Like an agent, it has a session id (a new one, or the one resumed) and reports it with its first check-in
// (checkin.sh --session-id), so a worker type's resume_command can restart it with {session_id}.
//
// The same switches can be written in the task text, so tasks queued for the daemon show them too:
//   [crash-once]  [crash-at:PCT]  [hang]  [ignore-sigterm]  [fork-grandchild]  [rate-limit-once]  [steps:N]  [interval:S]
// e.g. create-task.sh --worker-type demo --description "Summarise the logs [crash-once]".
//
// Defaults: --worker-id from $WORKER_ID, --steps 5, --interval from $COMMIT_RELAY_CHECKIN_INTERVAL or 2.
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHECKIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'checkin.sh');

function parseArgs(argv) {
  const options = {};
  const valued = new Set(['--worker-id', '--task', '--steps', '--interval', '--crash-at', '--resume']);
  const switches = new Set(['--crash-on-first-run', '--hang', '--ignore-sigterm', '--fork-grandchild', '--rate-limit-once']);
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (valued.has(arg)) {
      if (argv[i + 1] === undefined) fail(`${arg} needs a value`);
      options[arg.slice(2)] = argv[i + 1];
      i += 1;
    } else if (switches.has(arg)) options[arg.slice(2)] = true;
    else fail(`unknown argument ${JSON.stringify(arg)}`);
  }
  return options;
}

/** Switches written in the task text as [name] or [name:value]. */
function markersOf(text) {
  const found = {};
  for (const match of text.matchAll(/\[(crash-once|crash-at|hang|ignore-sigterm|fork-grandchild|rate-limit-once|steps|interval)(?::([0-9.]+))?\]/g)) {
    found[match[1]] = match[2] ?? true;
  }
  return found;
}

function fail(message) {
  process.stderr.write(`demo-agent: ${message}\n`);
  process.exit(2);
}

function number(value, name, min, max) {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) fail(`${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

const args = parseArgs(process.argv.slice(2));
const task = args.task ?? '';
const markers = markersOf(task);
const workerId = args['worker-id'] ?? process.env.WORKER_ID;
if (!workerId) fail('no worker id: pass --worker-id or run as a worker (WORKER_ID)');
const steps = number(args.steps ?? markers.steps ?? 5, '--steps', 1, 10_000);
const interval = number(args.interval ?? markers.interval ?? process.env.COMMIT_RELAY_CHECKIN_INTERVAL ?? 2, '--interval', 0, 86_400);
const crashAt = args['crash-at'] ?? markers['crash-at'];
const crashAtPct = crashAt === undefined ? undefined : number(crashAt, '--crash-at', 0, 100);
const firstRun = (process.env.COMMIT_RELAY_RESTART_COUNT ?? '0') === '0';
const crashOnce = Boolean(args['crash-on-first-run'] ?? markers['crash-once']) && firstRun;
const hang = Boolean(args.hang ?? markers.hang);
const resumed = args.resume;
const sessionId = resumed ?? `demo-${randomUUID()}`;
const rateLimitOnce = Boolean(args['rate-limit-once'] ?? markers['rate-limit-once']) && resumed === undefined;

const log = (message) => process.stdout.write(`${new Date().toISOString()} demo-agent ${workerId}: ${message}\n`);

if (args['ignore-sigterm'] ?? markers['ignore-sigterm']) {
  process.on('SIGTERM', () => log('SIGTERM received and ignored'));
}
if (args['fork-grandchild'] ?? markers['fork-grandchild']) {
  // Same process group as this agent, so a stop of the worker takes it down too.
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore' });
  child.unref();
  // On its own exit (finished or crashed) the agent takes it along; a stop by signal leaves that to the group kill.
  process.on('exit', () => child.kill('SIGKILL'));
  log(`forked grandchild pid ${child.pid}`);
}

function checkin(status, progress, message, extra = []) {
  return new Promise((resolve) => {
    const argv = ['--worker-id', workerId, '--status', status, '--progress', String(progress), '--message', message, ...extra];
    execFile(CHECKIN, argv, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error) log(`check-in failed: ${(stderr || error.message).trim()}`);
      resolve();
    });
  });
}

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

async function main() {
  log(`starting "${task}" (${steps} steps, every ${interval}s${firstRun ? '' : `, restart ${process.env.COMMIT_RELAY_RESTART_COUNT}`})`);
  log(resumed === undefined ? `new session ${sessionId}` : `resumed session ${sessionId}`);
  await checkin('starting', 0, resumed === undefined ? 'starting' : 'resumed its session', ['--session-id', sessionId]);
  if (rateLimitOnce) {
    await sleep(Math.min(interval, 2));
    // What Claude Code prints when the account's usage limit is reached: the reset time in epoch seconds.
    process.stdout.write(`Claude AI usage limit reached|${Math.round(Date.now() / 1000) + 8}\n`);
    process.exit(1);
  }
  if (hang) {
    log('hanging: no more check-ins, never finishing');
    setInterval(() => {}, 60_000);
    return;
  }
  for (let step = 1; step <= steps; step += 1) {
    await sleep(interval);
    const progress = Math.round((step / steps) * 100);
    if (crashOnce && progress >= 50) {
      log(`crashing at ${progress}% (first run only)`);
      process.exit(1);
    }
    if (crashAtPct !== undefined && progress >= crashAtPct) {
      log(`crashing at ${progress}%`);
      process.exit(1);
    }
    if (step < steps) await checkin('in_progress', progress, `step ${step} of ${steps}`);
  }
  await checkin('completed', 100, 'done');
  log('done');
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`demo-agent: ${error?.stack ?? error}\n`);
  process.exit(1);
});
