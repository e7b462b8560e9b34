// The resources of a run, read from /proc by its token: every process carrying it, whatever its group.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { runProcesses, systemUnits, treeOrder, UsageSampler } from '../../dist/process/usage.js';
import { waitFor } from '../helpers/home.js';
import { ProcessTracker, pidOf } from '../helpers/processes.js';

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
  // Each with its resident set: a process caught inside fork or execve (its memory being replaced) reads 0 for an instant.
  const processes = await waitFor(() => {
    const found = runProcesses(run.runId);
    return found.length === 3 && found.every((p) => p.rssBytes > 0) ? found : undefined;
  }, { what: 'the run\'s three processes, each with a resident set' });
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
