// scripts/hooks/claude-code.sh run by hand with Claude Code's hook JSON, `commit-relay hooks claude-code`, and
// the fake agent that calls them as Claude Code would.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkinSchema } from '../../dist/contract/checkin.js';
import { run } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { uniqueId, writePendingSpec } from '../helpers/specs.js';
import { FAKE_CLAUDE, HOOK, runHook, runWith } from './support.js';

const SCOPE = {};
const SESSION = '5c0b1d2e-1111-4222-8333-944455556666';
const common = { session_id: SESSION, transcript_path: '/tmp/t.jsonl', cwd: '/tmp', permission_mode: 'default' };
/** @param {import('../helpers/scope.js').Scope} t @param {string} id */
const readCheckinOf = (t, id) => JSON.parse(readFileSync(t.paths.checkinFile(id), 'utf8'));

test('the hook records each Claude Code event as the check-in it means', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('hook');
  writePendingSpec(t.home, id);
  const env = { WORKER_ID: id, COMMIT_RELAY_HOME: t.home, COMMIT_RELAY_RUN_ID: 'run-1' };
  // A progress checkin.sh recorded is kept by the hook's check-ins.
  const progress = await run(t.home, ['--progress', '40'], { script: 'checkin.sh', env: { WORKER_ID: id, COMMIT_RELAY_RUN_ID: 'run-1' } });
  assert.equal(progress.code, 0, progress.stderr);
  /** @type {Array<[Record<string, unknown>, Record<string, unknown>]>} */
  const cases = [
    [{ hook_event_name: 'SessionStart', source: 'startup' }, { status: 'in_progress', activity: 'SessionStart', session_id: SESSION, message: 'session started (startup)' }],
    [{ hook_event_name: 'UserPromptSubmit', prompt: 'fix the bug' }, { status: 'in_progress', activity: 'UserPromptSubmit' }],
    [{ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'ls' }, tool_use_id: 't1' }, { status: 'in_progress', activity: 'PreToolUse', message: 'PreToolUse Bash' }],
    [{ hook_event_name: 'PostToolUse', tool_name: 'Edit', tool_input: {}, tool_response: {}, tool_use_id: 't1' }, { status: 'in_progress', activity: 'PostToolUse', message: 'PostToolUse Edit' }],
    [{ hook_event_name: 'SubagentStop', stop_hook_active: false }, { status: 'in_progress', activity: 'SubagentStop' }],
    [{ hook_event_name: 'Notification', message: 'Claude needs your permission to use Bash', notification_type: 'permission_prompt' }, { status: 'blocked', message: 'Claude needs your permission to use Bash', activity: undefined }],
    [{ hook_event_name: 'Notification', message: 'Claude is waiting for your input' }, { status: 'blocked', message: 'Claude is waiting for your input' }],
    [{ hook_event_name: 'Notification', message: 'Authenticated', notification_type: 'auth_success' }, { status: 'in_progress', message: 'Authenticated', activity: undefined }],
    [{ hook_event_name: 'Stop', stop_hook_active: false }, { status: 'in_progress', message: 'turn ended (Stop)', activity: undefined }],
    [{ hook_event_name: 'StopFailure', error: 'server_error' }, { status: 'failed', message: 'turn failed (StopFailure): server_error' }],
    [{ hook_event_name: 'StopFailure', error: 'rate_limit' }, { status: 'rate_limited', message: 'turn failed (StopFailure): rate_limit' }],
  ];
  for (const [event, expected] of cases) {
    const result = await runHook(env, { ...common, ...event });
    assert.deepEqual([result.code, result.stdout, result.stderr], [0, '', ''], `${event.hook_event_name}: exit 0, silent`);
    const written = readCheckinOf(t, id);
    assert.equal(checkinSchema.safeParse(written).success, true, JSON.stringify(written));
    assert.equal(written.worker_id, id);
    assert.equal(written.run_id, 'run-1');
    assert.equal(written.progress_pct, 40, `${event.hook_event_name} keeps the progress`);
    assert.equal(written.session_id, SESSION);
    assert.ok(Math.abs(Date.parse(written.timestamp) - Date.now()) < 60_000, 'a current timestamp');
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(written[key], value, `${event.hook_event_name}: ${key}`);
  }
  // An event it does not record (PreCompact) changes nothing.
  const before = readFileSync(t.paths.checkinFile(id), 'utf8');
  const other = await runHook(env, { ...common, hook_event_name: 'PreCompact', trigger: 'auto' });
  assert.deepEqual([other.code, other.stderr], [0, '']);
  assert.equal(readFileSync(t.paths.checkinFile(id), 'utf8'), before);
  assert.deepEqual(readdirSync(t.paths.checkins), [`${id}.json`], 'no temp file left');
}));

test('the fast path (the event as the first argument, as the printed settings do) writes the same tool-call check-in without jq', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('hook-fast');
  writePendingSpec(t.home, id);
  const env = { WORKER_ID: id, COMMIT_RELAY_HOME: t.home, COMMIT_RELAY_RUN_ID: 'run-7' };
  const previous = { worker_id: id, timestamp: new Date().toISOString(), status: 'blocked', progress_pct: 42.5, message: 'said "progress_pct":99, then', run_id: 'run-7' };
  writeFileSync(t.paths.checkinFile(id), `${JSON.stringify(previous)}\n`);
  for (const event of ['PreToolUse', 'PostToolUse', 'PostToolUseFailure']) {
    // Its input is not read: even one that is not JSON.
    const before = Date.now();
    const result = await runWith(HOOK, [event], { env, input: 'x'.repeat(200_000) });
    const after = Date.now();
    assert.deepEqual([result.code, result.stdout, result.stderr], [0, '', ''], event);
    const written = readCheckinOf(t, id);
    assert.equal(checkinSchema.safeParse(written).success, true, JSON.stringify(written));
    assert.deepEqual([written.worker_id, written.status, written.progress_pct, written.run_id, written.activity, written.message], [id, 'in_progress', 42.5, 'run-7', event, event]);
    // Its time comes from /proc (boot time in whole seconds + the shell's start): never late, at most a second early.
    assert.match(written.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const at = Date.parse(written.timestamp);
    assert.ok(at >= before - 1100 && at <= after, `a current timestamp: ${written.timestamp}, run between ${new Date(before).toISOString()} and ${new Date(after).toISOString()}`);
  }
  // The session the run's previous check-in named is kept; another run's is not.
  writeFileSync(t.paths.checkinFile(id), `${JSON.stringify({ ...previous, session_id: 'sess-9f' })}\n`);
  assert.equal((await runWith(HOOK, ['PostToolUse'], { env })).code, 0);
  assert.equal(readCheckinOf(t, id).session_id, 'sess-9f');
  assert.equal((await runWith(HOOK, ['PostToolUse'], { env: { ...env, COMMIT_RELAY_RUN_ID: 'run-8' } })).code, 0);
  assert.equal(readCheckinOf(t, id).session_id, undefined);
  // A run id it cannot write as it is: the general path (jq) escapes it.
  const odd = await runWith(HOOK, ['PreToolUse'], { env: { ...env, COMMIT_RELAY_RUN_ID: 'run "8"' }, input: JSON.stringify({ ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash' }) });
  assert.equal(odd.code, 0, odd.stderr);
  assert.deepEqual([readCheckinOf(t, id).run_id, readCheckinOf(t, id).message], ['run "8"', 'PreToolUse Bash']);
  // No progress to keep: 0.
  writeFileSync(t.paths.checkinFile(id), '{"worker_id":"x","progress_pct":"many"}\n');
  assert.equal((await runWith(HOOK, ['PostToolUse'], { env })).code, 0);
  assert.equal(readCheckinOf(t, id).progress_pct, 0);
  assert.deepEqual(readdirSync(t.paths.checkins), [`${id}.json`], 'no temp file left');
  // Without jq on the PATH the fast path still records; an event that needs jq says so and changes nothing.
  const bin = join(t.home, 'bin-without-jq');
  mkdirSync(bin);
  const linked = new Set(['jq']);
  for (const dir of ['/usr/bin', '/bin']) {
    for (const name of readdirSync(dir)) {
      if (linked.has(name)) continue;
      linked.add(name);
      symlinkSync(join(dir, name), join(bin, name));
    }
  }
  const noJq = { ...env, PATH: bin };
  const fast = await runWith(HOOK, ['PreToolUse'], { env: noJq });
  assert.deepEqual([fast.code, fast.stderr, readCheckinOf(t, id).activity], [0, '', 'PreToolUse'], 'a tool call needs no jq');
  const before = readFileSync(t.paths.checkinFile(id), 'utf8');
  const slow = await runWith(HOOK, ['SessionStart'], { env: noJq, input: JSON.stringify({ ...common, hook_event_name: 'SessionStart', source: 'startup' }) });
  assert.equal(slow.code, 0);
  assert.match(slow.stderr, /jq is not installed/);
  assert.equal(readFileSync(t.paths.checkinFile(id), 'utf8'), before, 'nothing changed');
}));

test('outside a worker the hook does nothing and exits 0', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('hook-out');
  writePendingSpec(t.home, id);
  for (const WORKER_ID of [undefined, '']) {
    const result = await runHook({ WORKER_ID, COMMIT_RELAY_HOME: t.home }, { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash' });
    assert.deepEqual([result.code, result.stdout, result.stderr], [0, '', '']);
  }
  const help = await runWith(HOOK, ['--help'], { env: { COMMIT_RELAY_HOME: t.home } });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: claude-code.sh/);
  assert.deepEqual(readdirSync(t.paths.checkins), []);
}));

test('bad input: one line on stderr, exit 0 (never blocking Claude Code), no change', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('hook-bad');
  writePendingSpec(t.home, id);
  const env = { WORKER_ID: id, COMMIT_RELAY_HOME: t.home };
  const first = await runHook(env, { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash' });
  assert.equal(first.code, 0, first.stderr);
  const before = readFileSync(t.paths.checkinFile(id), 'utf8');
  /** @type {Array<[Record<string, string | undefined>, string, RegExp]>} */
  const cases = [
    [env, '{"hook_event_name": "PreToolUse", ', /claude-code hook: .*(parse error|Unfinished JSON)/i],
    [env, 'not json at all', /claude-code hook: .*(parse error|Invalid)/i],
    [env, '', /no hook input on stdin/],
    [env, '[1, 2]', /the hook input is not a JSON object/],
    [env, '{"session_id": "s"}', /the hook input has no hook_event_name/],
    [{ ...env, WORKER_ID: '../etc/passwd' }, JSON.stringify({ hook_event_name: 'Stop' }), /invalid WORKER_ID "\.\.\/etc\/passwd"/],
    [{ ...env, WORKER_ID: 'no-such-worker' }, JSON.stringify({ hook_event_name: 'Stop' }), /no worker "no-such-worker"/],
  ];
  for (const [caseEnv, input, expected] of cases) {
    const result = await runHook(caseEnv, input);
    assert.equal(result.code, 0, `${input}: exit 0`);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, expected, input);
    assert.equal(result.stderr.trim().split('\n').length, 1, `${input}: one line`);
    assert.equal(readFileSync(t.paths.checkinFile(id), 'utf8'), before, `${input}: no change`);
  }
  assert.deepEqual(readdirSync(t.paths.checkins).sort(), [`${id}.json`]);
}));

test('commit-relay hooks claude-code prints settings that name the script for every event it records', () => withHome(SCOPE, async (t) => {
  const result = await run(t.home, ['hooks', 'claude-code']);
  assert.equal(result.code, 0, result.stderr);
  const settings = JSON.parse(result.stdout);
  const events = ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'SubagentStop', 'Notification', 'Stop', 'StopFailure'];
  for (const event of events) {
    const commands = (settings.hooks[event] ?? []).flatMap((/** @type {{ hooks: { type: string, command: string }[] }} */ g) => g.hooks);
    assert.deepEqual(commands.map((/** @type {{ type: string, command: string }} */ h) => [h.type, h.command]), [['command', `${HOOK} ${event}`]], event);
  }
  const bad = await run(t.home, ['hooks', 'vim']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown agent "vim"/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);

  // The fake agent run with these settings (as `claude --settings FILE`) records its session and its tool calls.
  const id = uniqueId('hook-settings');
  writePendingSpec(t.home, id);
  const file = join(t.home, 'claude-settings.json');
  writeFileSync(file, result.stdout);
  const agent = await runWith(process.execPath, [FAKE_CLAUDE, '-p', 'do it', '--settings', file, '--tools', '2', '--tool-interval-ms', '0'], { env: { WORKER_ID: id, COMMIT_RELAY_HOME: t.home } });
  assert.equal(agent.code, 0, agent.stderr);
  const init = JSON.parse(agent.stdout.split('\n')[0]);
  assert.equal(init.subtype, 'init');
  const written = readCheckinOf(t, id);
  assert.deepEqual([written.status, written.message, written.session_id], ['in_progress', 'turn ended (Stop)', init.session_id]);
}));

test('the fake agent: a usage limit once (the line Claude Code prints, exit 1), then normal; --resume keeps the session', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('fake');
  writePendingSpec(t.home, id);
  const env = { WORKER_ID: id, COMMIT_RELAY_HOME: t.home };
  const marker = join(t.home, 'limited-once');
  const args = [FAKE_CLAUDE, '-p', 'x', '--rate-limit-once', marker, '--reset-in', '30', '--tools', '1', '--tool-interval-ms', '0'];
  const limited = await runWith(process.execPath, args, { env });
  assert.equal(limited.code, 1);
  const match = /^Claude AI usage limit reached\|(\d+)$/m.exec(limited.stdout);
  assert.ok(match, limited.stdout);
  const reset = Number(match[1]) * 1000;
  assert.ok(reset > Date.now() + 20_000 && reset < Date.now() + 40_000, 'reset about 30 s ahead');
  assert.ok(existsSync(marker));
  const session = JSON.parse(limited.stdout.split('\n')[0]).session_id;
  const resumed = await runWith(process.execPath, [...args, '--resume', session], { env });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.doesNotMatch(resumed.stdout, /usage limit/);
  assert.match(resumed.stdout, new RegExp(`"subtype":"resumed","session_id":"${session}"`));
  assert.equal(readCheckinOf(t, id).session_id, session);
  const bad = await runWith(process.execPath, [FAKE_CLAUDE, '--tools', 'many'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--tools needs a non-negative number/);
}));
