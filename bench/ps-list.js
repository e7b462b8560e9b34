// Benchmark: finding a process group's live members by reading /proc (src/process/group.ts, what the
// daemon does) against the ps-list package (v9 on Linux runs `ps` twice and readlinks /proc/PID/exe of
// every process it lists). ps-list reports no process group, no state and a start time to the second, so
// its way to a group is the parent tree from the leader; the benchmark also counts what each way finds.
//
// ps-list is not a dependency: to measure it, `npm install --no-save ps-list@9` first. Without it, its
// figures are null and the one-`ps`-spawn floor still shows what any ps-based way costs.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchEnv, childrenCpuMs, DIST, figure, groupMembers, sleep, summarize, waitFor } from './lib/common.js';

const execFileAsync = promisify(execFile);

export const name = 'ps-list';
export const title = 'A process group\'s live members: /proc (ours) against ps-list and ps';

export const method = [
  'A fixture group: a detached `sh` leader with M `sleep` children and one member orphaned on purpose (its parent `sh` exits, so it is re-parented out of the leader\'s tree but stays in the group). Scenarios: the machine as it is, then with F extra `sleep` processes in other groups (a fleet\'s worth of processes to scan).',
  '"/proc, members": liveGroupMembers(pgid) from dist/process/group.js (readdir /proc, read each /proc/PID/stat, keep pgrp = pgid and state not Z/X). "/proc, any member": groupHasLiveMembers(pgid), the daemon\'s common question (kill(-pgid, 0), then the leader\'s stat).',
  '"ps-list": psList() (v9: two `ps awwxo ...` spawns in parallel, then a readlink of /proc/PID/exe per process), then the group as the leader and its descendants by ppid: the only way to a group from what ps-list reports. "ps -eo pid,pgid,stat": one spawn of ps with the fields a group needs, filtered in JS: the floor of any ps-based way.',
  'Each way runs K times in turn after a warm-up; wall time from performance.now(); CPU is this process\'s user + system (process.cpuUsage) plus the CPU of the `ps` children it waited for (cutime + cstime from /proc/self/stat). Figures are p50s.',
];

/** A detached group: sh leader, M sleeps, and one sleep whose parent sh exits (orphaned, same group). */
async function startGroup(m) {
  const script = `for i in $(seq ${m}); do sleep 600 & done; sh -c 'sleep 600 & exit 0'; wait`;
  const leader = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore', env: benchEnv() });
  const pgid = leader.pid;
  await waitFor(() => groupMembers(pgid).length === m + 2, { what: `a group of ${m + 2} live processes`, timeoutMs: 30_000 });
  return { pgid, leader, expected: m + 2 };
}

async function startFiller(count) {
  const script = `for i in $(seq ${count}); do sleep 600 & done; wait`;
  const filler = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore', env: benchEnv() });
  await waitFor(() => groupMembers(filler.pid).length === count + 1, { what: `${count} filler processes`, timeoutMs: 60_000, intervalMs: 100 });
  return filler;
}

async function killGroup(pgid) {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* gone */
  }
  await waitFor(() => groupMembers(pgid).length === 0, { what: `group ${pgid} to end`, timeoutMs: 30_000, intervalMs: 50 });
}

function descendantsByPpid(list, root) {
  const children = new Map();
  for (const p of list) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid).push(p.pid);
  }
  const listed = new Set(list.map((p) => p.pid));
  const out = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop();
    if (!listed.has(pid)) continue;
    out.push(pid);
    for (const child of children.get(pid) ?? []) stack.push(child);
  }
  return out;
}

async function measure(fn, iterations) {
  await fn();
  const wall = [];
  const cpu = [];
  let found;
  for (let i = 0; i < iterations; i += 1) {
    const c0 = process.cpuUsage();
    const k0 = childrenCpuMs();
    const t0 = performance.now();
    found = await fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000 + (childrenCpuMs() - k0));
  }
  return { wall_ms: summarize(wall, 2), cpu_ms: summarize(cpu, 2), found };
}

export async function run({ quick, log }) {
  const { liveGroupMembers, groupHasLiveMembers } = await import(join(DIST, 'process', 'group.js'));
  let psList = null;
  let psListVersion = null;
  try {
    psList = (await import('ps-list')).default;
    psListVersion = JSON.parse(readFileSync(new URL('package.json', import.meta.resolve('ps-list')), 'utf8')).version;
  } catch {
    psList = null;
    log('ps-list is not installed (`npm install --no-save ps-list@9` to measure it): its figures are null');
  }
  const iterations = quick ? 10 : 40;
  const m = 8;
  const fillers = quick ? [0, 300] : [0, 1000];
  const figures = [];
  const details = { ps_list_version: psListVersion, iterations, group_members: m + 2, scenarios: {} };
  const group = await startGroup(m);
  let filler = null;
  try {
    for (const extra of fillers) {
      if (extra > 0) filler = await startFiller(extra);
      await sleep(200);
      const processes = (await execFileAsync('ps', ['-e', '-o', 'pid='])).stdout.trim().split('\n').length;
      const ways = {
        proc_members: () => liveGroupMembers(group.pgid).length,
        proc_any: () => (groupHasLiveMembers(group.pgid) ? 1 : 0),
        ps_one_spawn: async () => {
          const { stdout } = await execFileAsync('ps', ['-e', '-o', 'pid=,pgid=,stat='], { maxBuffer: 64 << 20 });
          let n = 0;
          for (const line of stdout.split('\n')) {
            const [, pgid, stat] = line.trim().split(/\s+/);
            if (Number(pgid) === group.pgid && stat && !stat.startsWith('Z')) n += 1;
          }
          return n;
        },
        ...(psList ? { ps_list: async () => descendantsByPpid(await psList(), group.pgid).length } : {}),
      };
      const results = {};
      for (const [way, fn] of Object.entries(ways)) results[way] = await measure(fn, iterations);
      details.scenarios[extra] = { processes_on_machine: processes, ...results };
      const at = `${processes} processes`;
      log(`${at}: ${Object.entries(results).map(([w, r]) => `${w} wall p50 ${r.wall_ms.p50} ms, CPU p50 ${r.cpu_ms.p50} ms, found ${r.found}`).join('; ')}`);
      const key = extra === 0 ? 'machine' : `plus${extra}`;
      figures.push(figure(`${key}_proc_members_p50_ms`, `${at}: /proc, members of a group (wall p50; CPU ${results.proc_members.cpu_ms.p50} ms)`, results.proc_members.wall_ms.p50, 'ms'));
      figures.push(figure(`${key}_proc_any_p50_ms`, `${at}: /proc, has the group a live member (wall p50)`, results.proc_any.wall_ms.p50, 'ms'));
      figures.push(figure(`${key}_ps_list_p50_ms`, `${at}: ps-list${psListVersion ? ` ${psListVersion}` : ''} + parent tree (wall p50${results.ps_list ? `; CPU with its ps children ${results.ps_list.cpu_ms.p50} ms` : ''})`, results.ps_list?.wall_ms.p50 ?? null, 'ms'));
      figures.push(figure(`${key}_ps_spawn_p50_ms`, `${at}: one \`ps -eo pid,pgid,stat\` (wall p50; CPU with ps ${results.ps_one_spawn.cpu_ms.p50} ms)`, results.ps_one_spawn.wall_ms.p50, 'ms'));
      if (extra === 0) {
        figures.push(figure('members_expected', 'live members of the fixture group (one orphaned)', group.expected, 'processes'));
        figures.push(figure('members_found_proc', 'members found by /proc', results.proc_members.found, 'processes'));
        figures.push(figure('members_found_ps_list', 'members found by ps-list\'s parent tree (the orphan is missed)', results.ps_list?.found ?? null, 'processes'));
      }
    }
  } finally {
    await killGroup(group.pgid);
    if (filler) await killGroup(filler.pid);
  }
  return { figures, details };
}
