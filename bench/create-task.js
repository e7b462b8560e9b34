// Benchmark: task creation. One scripts/create-task.sh (the lean entry, src/bin/create-task.ts) against node's
// own start and the whole yargs CLI, and `create-task.sh --from-file` with 1,000 tasks. Goals: under 150 ms a
// call (p50), 1,000 tasks under 2 s.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { below, benchEnv, CLI, figure, makeHome, readJson, removeHome, SCRIPTS, summarize, timeLoop } from './lib/common.js';

export const name = 'create-task';
export const title = 'Task creation: one create-task.sh, and --from-file with 1,000 tasks';

export const method = [
  'One task: scripts/create-task.sh --description D (file backend, no pm-daemon.json) run from a small sh loop, timed with date +%s%N before and after each run; median of the runs. Each run adds a task to the same home.',
  'The floor, timed the same way: `node -e 0`. The old path for comparison: `node dist/cli/main.js create-task` (the whole yargs CLI with zod), fewer runs.',
  '1,000 tasks: create-task.sh --from-file FILE with 1,000 JSON lines, each run into a fresh home (an empty queue), timed the same way; the queue is checked to hold the 1,000 tasks after.',
];

export async function run({ quick, log }) {
  const runs = quick ? 15 : 30;
  const { home, paths } = await makeHome('create-task', { implementation: { command: ['sleep', '3600'] } });
  let one;
  try {
    const env = benchEnv({ COMMIT_RELAY_HOME: home });
    const lean = await timeLoop(`'${join(SCRIPTS, 'create-task.sh')}' --description bench`, runs, env);
    const nodeFloor = await timeLoop(`'${process.execPath}' -e 0`, Math.min(runs, 15), env);
    const old = await timeLoop(`'${process.execPath}' '${CLI}' create-task --description bench`, quick ? 5 : 10, env);
    const queued = readJson(paths.taskQueue).tasks.length;
    if (queued !== lean.length + old.length) throw new Error(`expected ${lean.length + old.length} queued tasks, found ${queued}`);
    one = { create_task_sh_ms: summarize(lean), node_e_0_ms: summarize(nodeFloor), yargs_cli_ms: summarize(old) };
  } finally {
    removeHome(home);
  }
  const bulk = [];
  for (let i = 0; i < (quick ? 2 : 3); i += 1) {
    const fresh = await makeHome('create-task-bulk', { implementation: { command: ['sleep', '3600'] } });
    try {
      const file = join(fresh.home, 'tasks.jsonl');
      writeFileSync(file, Array.from({ length: 1000 }, (_, n) => `${JSON.stringify({ description: `bulk task ${n}`, priority: n % 3 === 0 ? 'high' : 'medium', metadata: { n } })}\n`).join(''));
      bulk.push(...(await timeLoop(`'${join(SCRIPTS, 'create-task.sh')}' --from-file '${file}'`, 1, benchEnv({ COMMIT_RELAY_HOME: fresh.home }))));
      const queued = readJson(fresh.paths.taskQueue).tasks.length;
      if (queued !== 1000) throw new Error(`--from-file queued ${queued} tasks, not 1000`);
    } finally {
      removeHome(fresh.home);
    }
  }
  const fromFile = summarize(bulk);
  log(`create-task: create-task.sh p50 ${one.create_task_sh_ms.p50} ms (node -e 0: ${one.node_e_0_ms.p50} ms; the yargs CLI: ${one.yargs_cli_ms.p50} ms); --from-file 1,000 tasks p50 ${fromFile.p50} ms`);
  const figures = [
    figure('create_task_p50_ms', `one scripts/create-task.sh, wall p50 (n=${one.create_task_sh_ms.n}; node -e 0 alone: ${one.node_e_0_ms.p50} ms)`, one.create_task_sh_ms.p50, 'ms', below(150, 'ms')),
    figure('create_task_yargs_cli_p50_ms', `the same through the whole CLI (node dist/cli/main.js create-task, n=${one.yargs_cli_ms.n}), wall p50`, one.yargs_cli_ms.p50, 'ms'),
    figure('create_task_from_file_1000_ms', `create-task.sh --from-file with 1,000 tasks into an empty queue, wall p50 (n=${fromFile.n})`, fromFile.p50, 'ms', below(2000, 'ms')),
  ];
  return { figures, details: { one, from_file_1000_ms: fromFile } };
}
