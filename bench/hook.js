// Benchmark: the Claude Code hook and scripts/checkin.sh. The hook runs on every tool call an agent makes (twice:
// PreToolUse and PostToolUse), so its wall time is what each tool call pays; checkin.sh is what an agent runs to
// report progress. Both are shell scripts of builtins and one mv (scripts/lib/checkin.sh). Goal: each under 20 ms.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { below, benchEnv, figure, makeHome, makeSpec, removeHome, ROOT, summarize, timeLoop, writeJsonAtomic } from './lib/common.js';

export const name = 'hook';
export const title = 'The Claude Code hook (one scripts/hooks/claude-code.sh PostToolUse) and one scripts/checkin.sh, wall time';

export const method = [
  'scripts/hooks/claude-code.sh run from a small sh loop, first as the settings of `commit-relay hooks claude-code` run it (the event as its first argument: the fast path, no jq), then with no argument (the general path: one jq reads the event), with a PostToolUse event of Claude Code (a Bash tool call) on stdin from a file, inside a worker (WORKER_ID, COMMIT_RELAY_HOME, COMMIT_RELAY_RUN_ID set, its spec in active/), timed with date +%s%N before and after each run; median of the runs.',
  'The floors, timed the same way: /bin/true, `jq -n 1` (the one jq the hook runs; its start is most of the cost), and `node -e 0` (what a Node hook would pay to start).',
  'The hook outside a worker (no WORKER_ID): the cost it adds to a person\'s own sessions.',
  'scripts/checkin.sh --progress 40 --message "..." inside the same worker, timed the same way; and, for comparison, the Node entry it hands the rare cases to (node dist/bin/checkin.js, what checkin.sh ran for every check-in before).',
];

export async function run({ quick, log }) {
  const runs = quick ? 20 : 50;
  const { home, paths } = await makeHome('hook', { bench: { command: ['sleep', '3600'] } });
  try {
    const id = 'bench-hook-1';
    writeJsonAtomic(paths.specFile('active', id), makeSpec({ id, type: 'bench', status: 'running', execution: { pid: process.pid, run_id: 'run-bench-1', started_at: new Date().toISOString() } }));
    const event = join(home, 'event.json');
    writeFileSync(event, JSON.stringify({ session_id: 'bench-session', transcript_path: '/tmp/t.jsonl', cwd: home, permission_mode: 'default', hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: 'npm test', description: 'Run the tests' }, tool_response: { stdout: 'ok', stderr: '', interrupted: false }, tool_use_id: 'toolu_01' }));
    const hook = join(ROOT, 'scripts', 'hooks', 'claude-code.sh');
    const env = benchEnv({ COMMIT_RELAY_HOME: home, WORKER_ID: id, COMMIT_RELAY_RUN_ID: 'run-bench-1' });
    // As the settings `commit-relay hooks claude-code` prints run it: the event named, the fast path (no jq).
    const inWorker = await timeLoop(`'${hook}' PostToolUse < '${event}'`, runs, env);
    const general = await timeLoop(`'${hook}' < '${event}'`, runs, env);
    const written = JSON.parse(readFileSync(paths.checkinFile(id), 'utf8'));
    if (written.activity !== 'PostToolUse') throw new Error('the hook did not write the check-in');
    const outside = await timeLoop(`'${hook}' < '${event}'`, Math.min(runs, 20), benchEnv({ COMMIT_RELAY_HOME: home }));
    const trueFloor = await timeLoop('/bin/true', Math.min(runs, 20), env);
    const jqFloor = await timeLoop('jq -n 1', Math.min(runs, 20), env);
    const nodeFloor = await timeLoop(`'${process.execPath}' -e 0`, Math.min(runs, 10), env);
    const checkinArgs = "--progress 40 --message 'parser done, now the tests'";
    const checkin = await timeLoop(`'${join(ROOT, 'scripts', 'checkin.sh')}' ${checkinArgs}`, runs, env);
    const checkinWritten = JSON.parse(readFileSync(paths.checkinFile(id), 'utf8'));
    if (checkinWritten.progress_pct !== 40 || checkinWritten.activity !== undefined) throw new Error('checkin.sh did not write the check-in');
    const checkinNode = await timeLoop(`'${process.execPath}' '${join(ROOT, 'dist', 'bin', 'checkin.js')}' ${checkinArgs}`, Math.min(runs, 10), env);
    const one = {
      hook_ms: summarize(inWorker),
      general_path_ms: summarize(general),
      outside_worker_ms: summarize(outside),
      checkin_sh_ms: summarize(checkin),
      checkin_node_ms: summarize(checkinNode),
      true_ms: summarize(trueFloor),
      jq_n_1_ms: summarize(jqFloor),
      node_e_0_ms: summarize(nodeFloor),
    };
    log(`checkin.sh: p50 ${one.checkin_sh_ms.p50} ms (node dist/bin/checkin.js: ${one.checkin_node_ms.p50} ms)`);
    log(`hook: p50 ${one.hook_ms.p50} ms in a worker (general path with jq: ${one.general_path_ms.p50} ms), ${one.outside_worker_ms.p50} ms outside (jq -n 1: ${one.jq_n_1_ms.p50} ms, node -e 0: ${one.node_e_0_ms.p50} ms, /bin/true: ${one.true_ms.p50} ms)`);
    const figures = [
      figure('hook_p50_ms', `one claude-code.sh PostToolUse in a worker, as the printed settings run it, wall p50 (n=${one.hook_ms.n}; /bin/true: ${one.true_ms.p50} ms, node -e 0: ${one.node_e_0_ms.p50} ms)`, one.hook_ms.p50, 'ms', below(20, 'ms')),
      figure('hook_general_p50_ms', `the same through the general path (event read from the input by one jq; jq -n 1 alone: ${one.jq_n_1_ms.p50} ms), wall p50`, one.general_path_ms.p50, 'ms'),
      figure('hook_outside_p50_ms', 'the same outside a worker (no WORKER_ID: exits at once), wall p50', one.outside_worker_ms.p50, 'ms'),
      figure('checkin_sh_p50_ms', `one scripts/checkin.sh --progress 40 --message "..." in a worker, wall p50 (n=${one.checkin_sh_ms.n}; /bin/true: ${one.true_ms.p50} ms, node -e 0: ${one.node_e_0_ms.p50} ms)`, one.checkin_sh_ms.p50, 'ms', below(20, 'ms')),
      figure('checkin_node_p50_ms', `the same through the Node entry checkin.sh hands rare cases to (node dist/bin/checkin.js), wall p50 (n=${one.checkin_node_ms.n})`, one.checkin_node_ms.p50, 'ms'),
    ];
    return { figures, details: one };
  } finally {
    removeHome(home);
  }
}
