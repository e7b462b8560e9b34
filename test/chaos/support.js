// Shared checks for the chaos tests: the invariants a home must hold whatever was killed when.
// Every check returns a list of violations in words (empty when all hold) rather than throwing, so a
// chaos run can collect what went wrong in every round and report it all at the end.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CLI, SCRIPTS, coord } from '../helpers/home.js';
import { envOf, procStat } from '../helpers/processes.js';

export const FOLDERS = ['active', 'completed', 'failed'];

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const randomInt = (min, max) => min + Math.floor(Math.random() * (max - min + 1));

/** A number from the environment (CHAOS_ROUNDS and friends), else the CI default. */
export function envNumber(name, fallback) {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}
export const LONG = process.env.CHAOS_LONG === '1';

const readIfThere = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'EISDIR') return undefined;
    throw error;
  }
};

/**
 * Every *.json under coordination/ parses, and every line of every *.jsonl ends with a newline and
 * parses. Other names (temp files: `x.json.123`, `x.json.tmp-…`) are allowed; lock folders are skipped.
 * A file that disappears between listing and reading (renamed meanwhile) is not a problem.
 */
export function unparsableFiles(home) {
  const problems = [];
  const root = coord(home);
  const walk = (dir) => {
    let names;
    try {
      names = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if (error.code === 'ENOENT') return;
      throw error;
    }
    for (const entry of names) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '.locks') walk(full);
        continue;
      }
      if (!entry.isFile()) continue;
      const rel = relative(root, full);
      if (entry.name.endsWith('.json')) {
        const text = readIfThere(full);
        if (text === undefined) continue;
        try {
          JSON.parse(text);
        } catch (error) {
          problems.push(`${rel} does not parse (${text.length} bytes): ${error.message}`);
        }
      } else if (entry.name.endsWith('.jsonl')) {
        const text = readIfThere(full);
        if (text === undefined || text === '') continue;
        const lines = text.split('\n');
        if (lines[lines.length - 1] !== '') problems.push(`${rel}: last line has no newline (a partial line): ${JSON.stringify(lines[lines.length - 1].slice(0, 120))}`);
        lines.slice(0, -1).forEach((line, i) => {
          try {
            JSON.parse(line);
          } catch {
            problems.push(`${rel}: line ${i + 1} does not parse: ${JSON.stringify(line.slice(0, 160))}`);
          }
        });
      }
    }
  };
  walk(root);
  return problems;
}

const listJson = (dir) => {
  try {
    return readdirSync(dir).filter((n) => n.endsWith('.json') && n !== 'MANIFEST.json').map((n) => n.slice(0, -5));
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
};

/** Where specs are, as a list of [place, ids]; places in the order specs flow: active, completed, failed, archived/<batch>. */
function listPlaces(home, order) {
  const specs = coord(home, 'worker-specs');
  const places = [];
  const visit = (name) => {
    if (name === 'archived') {
      let batches = [];
      try {
        batches = readdirSync(join(specs, 'archived'));
      } catch {
        /* none yet */
      }
      const sorted = order === 'flow' ? batches.sort() : batches.sort().reverse();
      for (const batch of sorted) places.push([`archived/${batch}`, listJson(join(specs, 'archived', batch))]);
    } else places.push([name, listJson(join(specs, name))]);
  };
  const names = [...FOLDERS, 'archived'];
  for (const name of order === 'flow' ? names : names.reverse()) visit(name);
  return places;
}

/**
 * Where each spec is, race-free against a concurrent mover. Specs only move forward (active → completed or
 * failed → archived), each with one rename. Listed against the flow, a spec moving meanwhile can be missed
 * but never seen twice, so a duplicate there is real; listed with the flow, it can be seen twice but never
 * missed, so an absence there is real. Returns both listings (Map id → places) and what they prove.
 */
/** @param {string} home @param {Iterable<string>} [mustExist] */
export function locateSpecs(home, mustExist = []) {
  const against = new Map();
  for (const [place, ids] of listPlaces(home, 'against')) for (const id of ids) against.set(id, [...(against.get(id) ?? []), place]);
  const flow = new Map();
  for (const [place, ids] of listPlaces(home, 'flow')) for (const id of ids) flow.set(id, [...(flow.get(id) ?? []), place]);
  const duplicates = [...against].filter(([, places]) => places.length > 1).map(([id, places]) => `spec ${id} is in ${places.length} folders at once: ${places.join(', ')}`);
  const missing = [...mustExist].filter((id) => !flow.has(id)).map((id) => `spec ${id} is in no folder (it existed before)`);
  return { against, flow, placesOf: flow, duplicates, missing };
}

/** The spec of a worker wherever it is now (re-located if it moves while being read), or undefined. */
export function readSpecAnywhere(home, id) {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const { placesOf } = locateSpecs(home);
    const places = placesOf.get(id);
    if (places === undefined) return undefined;
    const place = places[places.length - 1];
    const text = readIfThere(coord(home, 'worker-specs', place, `${id}.json`));
    if (text !== undefined) return { place, spec: JSON.parse(text) };
  }
  return undefined;
}

/**
 * The live worker processes of a home: [{pid, pgrp, workerId, runId}] (those with WORKER_ID and a run token). A
 * standby still waiting for "go" (src/process/spawn.ts spawnStandby) has run nothing and is not a run: all its
 * processes are its shim (COMMIT_RELAY_STANDBY=1 in the environment it started with) and the log pipe's split and
 * filters (LOG and MAX exported); a run's worker has neither.
 */
export function workerProcesses(home) {
  const found = [];
  const started = new Set();
  for (const p of allWorkerProcesses(home)) {
    found.push(p);
    if (p.env.COMMIT_RELAY_STANDBY !== '1' && (p.env.LOG === undefined || p.env.MAX === undefined)) started.add(p.runId);
  }
  return found.filter((p) => started.has(p.runId)).map(({ env: _env, ...p }) => p);
}

/** @param {string} home */
function allWorkerProcesses(home) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const env = envOf(pid);
    if (env === undefined || env.COMMIT_RELAY_HOME !== home || !env.WORKER_ID || !env.COMMIT_RELAY_RUN_ID) continue;
    const stat = procStat(pid);
    if (stat === undefined || stat.state === 'Z' || stat.state === 'X') continue;
    out.push({ pid, pgrp: stat.pgrp, workerId: env.WORKER_ID, runId: env.COMMIT_RELAY_RUN_ID, env });
  }
  return out;
}

/** Is this process still alive and still carrying this run's token (not a reused pid)? */
function stillCarries(pid, runId) {
  const stat = procStat(pid);
  if (stat === undefined || stat.state === 'Z' || stat.state === 'X') return false;
  return envOf(pid)?.COMMIT_RELAY_RUN_ID === runId;
}

/**
 * No worker runs twice: per worker id, at most one run (one COMMIT_RELAY_RUN_ID, one process group) alive.
 * A scan of /proc is not instantaneous, so a run that ended while a new one started could look like two;
 * each suspect is re-checked afterwards, and only runs still alive together at that moment count.
 */
export function duplicateRuns(home) {
  const byWorker = new Map();
  for (const p of workerProcesses(home)) {
    const runs = byWorker.get(p.workerId) ?? new Map();
    runs.set(p.runId, [...(runs.get(p.runId) ?? []), p]);
    byWorker.set(p.workerId, runs);
  }
  const problems = [];
  for (const [workerId, runs] of byWorker) {
    if (runs.size < 2) continue;
    const alive = [...runs].filter(([runId, procs]) => procs.some((p) => stillCarries(p.pid, runId)));
    if (alive.length < 2) continue;
    // Stable wording (sorted, no short-lived pids) so that a violation that persists reads the same each time.
    const describe = alive.map(([runId, procs]) => `${runId} (process group ${[...new Set(procs.map((p) => p.pgrp))].sort().join('/')})`).sort();
    problems.push(`worker ${workerId} runs ${alive.length} times at once: ${describe.join('; ')}`);
  }
  return problems;
}

/** The run headers spawn.ts writes to agents/logs/<id>/output.log, one per process started. */
export function runsLogged(home, workerId) {
  const text = readIfThere(join(home, 'agents', 'logs', workerId, 'output.log')) ?? '';
  return [...text.matchAll(/^=== \S+ run (\S+) of /gm)].map((m) => m[1]);
}

export function readQueue(home) {
  const text = readIfThere(coord(home, 'task-queue.json'));
  if (text === undefined || text.trim() === '') return { tasks: [] };
  return JSON.parse(text);
}

/**
 * No task lost or duplicated: each task id the test saw created is in the queue exactly once; no id twice;
 * every task that names a worker has exactly one spec; a task that names none is still queued. The queue
 * is read before the specs are listed: a spec is written before its task names it, and specs only move
 * forward, so whatever the queue names already exists when the listing runs, even with a daemon at work.
 */
export function taskProblems(home, createdIds) {
  const problems = [];
  let queue;
  try {
    queue = readQueue(home);
  } catch (error) {
    return [`task-queue.json does not parse: ${error.message}`];
  }
  const located = locateSpecs(home);
  const count = new Map();
  for (const task of queue.tasks) count.set(task.task_id, (count.get(task.task_id) ?? 0) + 1);
  for (const [id, n] of count) if (n > 1) problems.push(`task ${id} is in the queue ${n} times`);
  for (const id of createdIds) if (!count.has(id)) problems.push(`task ${id} was created (create-task printed it) but is not in the queue`);
  for (const task of queue.tasks) {
    if (task.worker_id === null || task.worker_id === undefined) {
      if (task.status !== 'queued') problems.push(`task ${task.task_id} is ${task.status} but names no worker`);
      continue;
    }
    const seenTwice = located.against.get(task.worker_id) ?? [];
    if (seenTwice.length > 1) problems.push(`task ${task.task_id} (${task.status}) names worker ${task.worker_id}, whose spec is in ${seenTwice.join(', ')}`);
    if (!located.flow.has(task.worker_id)) problems.push(`task ${task.task_id} (${task.status}) names worker ${task.worker_id}, which has no spec`);
  }
  return problems;
}

/**
 * Spawns a CLI subcommand (or a scripts/*.sh) against home; tracked; resolves its end as {code, signal, stdout, stderr, ms}.
 * @param {string} home @param {string[]} args
 * @param {{ script?: string, env?: Record<string, string>, tracker?: import('../helpers/processes.js').ProcessTracker }} [options]
 */
export function spawnCommand(home, args, { script, env = {}, tracker } = {}) {
  const file = script ? join(SCRIPTS, script) : process.execPath;
  const argv = script ? args : [CLI, ...args];
  const started = performance.now();
  const child = spawn(file, argv, { env: { ...process.env, COMMIT_RELAY_HOME: home, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  tracker?.pid(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - started })));
  return { child, done };
}

export const isFile = (file) => {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
};

export { existsSync };

/** A short account of a home for failure messages: each spec's place and state, each task, the last events. */
export function describeHome(home, lastEvents = 15) {
  const lines = [];
  const { flow } = locateSpecs(home);
  for (const [id, places] of flow) {
    const found = readSpecAnywhere(home, id);
    const e = found?.spec.execution ?? {};
    lines.push(`spec ${id}: ${places.join('+')} status ${found?.spec.status} pid ${e.pid} run ${e.run_id} exit_code ${e.exit_code} signal ${e.signal} error ${JSON.stringify(found?.spec.error ?? null)}`);
  }
  try {
    for (const task of readQueue(home).tasks) lines.push(`task ${task.task_id}: ${task.status} worker ${task.worker_id}`);
  } catch (error) {
    lines.push(`task-queue.json: ${error.message}`);
  }
  for (const dir of ['worker-exits', '.locks']) {
    try {
      lines.push(`${dir}/: ${readdirSync(coord(home, dir)).join(' ') || '(empty)'}`);
    } catch {
      /* none */
    }
  }
  const log = readIfThere(coord(home, 'pm-activity.jsonl')) ?? '';
  lines.push(...log.trim().split('\n').slice(-lastEvents).map((l) => `event ${l.slice(0, 300)}`));
  const daemonLog = readIfThere(join(home, 'agents', 'logs', 'system', 'pm-daemon.log')) ?? '';
  lines.push(...daemonLog.trim().split('\n').slice(-Math.ceil(lastEvents / 2)).map((l) => `daemon log ${l.slice(0, 400)}`));
  return lines.join('\n');
}

/**
 * Each change logged exactly once (worker/outbox.ts): no event id twice in pm-activity.jsonl; every event a
 * finished spec's outbox holds is in the log; a finished worker has one worker_completed or worker_failed.
 * @param {string} home
 * @returns {string[]} the violations
 */
export function eventLogProblems(home) {
  const problems = [];
  const text = readIfThere(coord(home, 'pm-activity.jsonl')) ?? '';
  const logged = text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));
  const seen = new Map();
  for (const e of logged) if (typeof e.event_id === 'string') seen.set(e.event_id, (seen.get(e.event_id) ?? 0) + 1);
  for (const [id, n] of seen) if (n > 1) problems.push(`event ${id} is logged ${n} times`);
  for (const folder of ['completed', 'failed']) {
    for (const id of listJson(coord(home, 'worker-specs', folder))) {
      const spec = JSON.parse(readIfThere(coord(home, 'worker-specs', folder, `${id}.json`)) ?? '{}');
      for (const group of spec.outbox ?? []) {
        for (const e of group.events) if (!seen.has(e.event_id)) problems.push(`${folder} worker ${id}: its ${e.event} event (${e.event_id}) was never logged`);
      }
      const finals = logged.filter((e) => e.worker_id === id && e.event === (folder === 'completed' ? 'worker_completed' : 'worker_failed'));
      if (finals.length !== 1) problems.push(`${folder} worker ${id}: ${finals.length} ${folder === 'completed' ? 'worker_completed' : 'worker_failed'} events, expected 1`);
    }
  }
  return problems;
}
