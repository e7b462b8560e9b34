// The resources of a run, read from /proc by its token: every process carrying it, whatever its group.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { UsageSampler, runProcesses, systemUnits, tokenIn, treeOrder } from '../../dist/process/usage.js';
import { waitFor } from '../helpers/home.js';
import { isAlive, ProcessTracker, pidOf } from '../helpers/processes.js';

/** A run: a shell that starts a busy child in another session and a sleeping one in its own group. @param {ProcessTracker} tracker */
function startRun(tracker) {
  const runId = randomUUID();
  const script = 'setsid sh -c "while :; do :; done" & sleep 600 & wait';
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore', env: { ...process.env, COMMIT_RELAY_RUN_ID: runId } });
  child.unref();
  tracker.group(pidOf(child));
  return { runId, pid: pidOf(child) };
}

test('runProcesses finds every process of the run, the escaped one too, with memory, and nothing else', async (t) => {
  const tracker = new ProcessTracker();
  /** @type {string[]} */
  const runIds = [];
  t.after(() => {
    // Every process of both runs, found by its token at the end: a busy loop escaped by setsid (not in the groups) is one.
    for (const id of runIds) for (const p of runProcesses(id)) tracker.pid(p.pid);
    tracker.cleanup();
  });
  const run = startRun(tracker);
  const other = startRun(tracker);
  runIds.push(run.runId, other.runId);
  // Each with its resident set: a process caught inside fork or execve (its memory being replaced) reads 0 for an instant;
  // and the escaped one out of the group: forked in it, it leaves it only when `setsid` runs.
  const processes = await waitFor(() => {
    const found = runProcesses(run.runId);
    return found.length === 3 && found.every((p) => p.rssBytes > 0) && found.some((p) => p.pgrp !== run.pid) && found.some((p) => p.command.startsWith('sleep 600')) ? found : undefined;
  }, { what: 'the run\'s three processes, each with a resident set, one escaped from the group by setsid, the sleep exec\'d' });
  assert.equal(processes[0]?.pid, run.pid, 'the root comes first');
  assert.ok(processes.every((p) => p.rssBytes > 0), 'each has a resident set');
  assert.ok(processes.some((p) => p.pgrp !== run.pid), 'the setsid child is found by its token');
  assert.ok(processes.some((p) => p.command.startsWith('sleep 600')), 'commands are argv joined');
  assert.ok(!processes.some((p) => runProcesses(other.runId).some((o) => o.pid === p.pid)), 'runs do not mix');

  const sampler = new UsageSampler();
  const first = sampler.sample(new Set([run.runId]));
  assert.equal(first.get(run.runId)?.cpuPercent, null, 'no CPU figure before a second sample');
  assert.equal(first.has(other.runId), false, 'only the runs asked for');
  const busy = await waitFor(() => {
    const usage = sampler.sample(new Set([run.runId, other.runId])).get(run.runId);
    return usage !== undefined && (usage.cpuPercent ?? 0) > 20 ? usage : undefined;
  }, { what: 'the busy loop\'s CPU', intervalMs: 300 });
  assert.equal(busy.processes.length, 3);
  assert.equal(busy.rssBytes, busy.processes.reduce((sum, p) => sum + p.rssBytes, 0));
});

test('treeOrder puts each process after its parent', () => {
  const p = (/** @type {number} */ pid, /** @type {number} */ ppid) => ({ pid, ppid, pgrp: 1, command: '', startTicks: 0, cpuTicks: 0, rssBytes: 0, lifeCpuPercent: 0 });
  assert.deepEqual(treeOrder([p(30, 20), p(20, 10), p(40, 1), p(10, 1), p(25, 10)]).map((x) => x.pid), [10, 20, 30, 25, 40]);
});

test('systemUnits reads CLK_TCK and the page size from the auxiliary vector, as getconf says them', () => {
  const getconf = (/** @type {string} */ name) => Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
  assert.deepEqual(systemUnits(), { ticksPerSecond: getconf('CLK_TCK'), pageBytes: getconf('PAGESIZE') });
});

/** A quiet run in its own group: `sleep 600`, or the command given. @param {ProcessTracker} tracker @param {string} runId */
function startSleep(tracker, runId, command = ['sleep', '600']) {
  const child = spawn(command[0] ?? 'sleep', command.slice(1), { detached: true, stdio: 'ignore', env: { ...process.env, COMMIT_RELAY_RUN_ID: runId } });
  child.unref();
  return tracker.group(pidOf(child));
}

const openFds = () => readdirSync('/proc/self/fd').length;

test('the sampler keeps a /proc/PID/stat fd per process, reports what a sampler without them reports, and close() releases them', async (t) => {
  const tracker = new ProcessTracker();
  t.after(() => tracker.cleanup());
  // Three processes, one group (tracker.cleanup() kills them all).
  const run = { runId: randomUUID() };
  startSleep(tracker, run.runId, ['sh', '-c', 'sleep 600 & sleep 600 & wait']);
  const runs = new Set([run.runId]);
  const kept = new UsageSampler();
  const unkept = new UsageSampler(0);
  await waitFor(() => kept.sample(runs).get(run.runId)?.processes.length === 3 || undefined, { what: 'the run\'s three processes' });
  kept.close();
  const before = openFds();
  const withFds = kept.sample(runs).get(run.runId);
  const during = openFds();
  const withoutFds = unkept.sample(runs).get(run.runId);
  assert.equal(openFds(), during, 'a sampler bound to no fds keeps none');
  kept.close();
  assert.equal(openFds(), before, 'close() releases every kept fd');
  assert.ok(during >= before + 3, `an fd kept per process (${before} before, ${during} after)`);
  const pids = (/** @type {import('../../dist/process/usage.js').RunUsage | undefined} */ usage) => usage?.processes.map((p) => p.pid);
  assert.deepEqual(pids(withFds), pids(withoutFds), 'the same processes either way');
  assert.deepEqual(pids(kept.sample(runs).get(run.runId)), pids(withoutFds), 'a sampler closed samples afresh');
  kept.close();
});

test('a pid whose process is replaced (its kept fd reads nothing) is a new process, with its own run', async (t) => {
  const tracker = new ProcessTracker();
  t.after(() => tracker.cleanup());
  const first = randomUUID();
  const second = randomUUID();
  const sampler = new UsageSampler();
  t.after(() => sampler.close());
  const pid = startSleep(tracker, first);
  await waitFor(() => sampler.sample(new Set([first])).get(first)?.processes[0]?.pid === pid || undefined, { what: 'the first run\'s process' });
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !isAlive(pid) || undefined, { what: 'the first process reaped' });
  // The next process started gets the same pid (/proc/sys/kernel/ns_last_pid, root only); another process may take it
  // first (the suite's other tests start hundreds at times): again, up to 200 times or 15 s.
  let reused;
  const until = Date.now() + 15_000;
  for (let attempt = 0; attempt < 200 && reused === undefined && Date.now() < until; attempt += 1) {
    try {
      writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    } catch {
      t.skip('the next pid cannot be chosen (ns_last_pid needs root)');
      return;
    }
    const next = startSleep(tracker, second);
    if (next === pid) reused = next;
    else process.kill(next, 'SIGKILL');
  }
  assert.equal(reused, pid, 'the pid was reused');
  const usage = await waitFor(() => {
    const sample = sampler.sample(new Set([first, second]));
    return sample.get(second)?.processes[0]?.pid === pid ? sample : undefined;
  }, { what: 'the second run seen at the reused pid' });
  assert.equal(usage.has(first), false, 'the first run is gone');
});

test('tokenIn finds the run token in an environ\'s bytes: first, in the middle, last, absent, empty, or only as part of another name', () => {
  const env = (...entries) => Buffer.from(entries.join('\0') + '\0', 'latin1');
  assert.equal(tokenIn(env('COMMIT_RELAY_RUN_ID=r1', 'PATH=/bin')), 'r1');
  assert.equal(tokenIn(env('PATH=/bin', 'COMMIT_RELAY_RUN_ID=r-2', 'HOME=/x')), 'r-2');
  assert.equal(tokenIn(Buffer.from('PATH=/bin\0COMMIT_RELAY_RUN_ID=r3', 'latin1')), 'r3', 'the last entry, without its NUL');
  assert.equal(tokenIn(env('PATH=/bin')), null);
  assert.equal(tokenIn(env('COMMIT_RELAY_RUN_ID=')), null);
  assert.equal(tokenIn(env('XCOMMIT_RELAY_RUN_ID=r4', 'PATH=/bin')), null);
  assert.equal(tokenIn(Buffer.alloc(0)), null);
  // An empty first entry (execve with "" first): the token follows a NUL at index 0.
  assert.equal(tokenIn(Buffer.from('\0COMMIT_RELAY_RUN_ID=r5\0PATH=/bin\0', 'latin1')), 'r5');
  assert.equal(tokenIn(Buffer.from('\0COMMIT_RELAY_RUN_ID=\0', 'latin1')), null);
});
