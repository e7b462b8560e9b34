import type { Argv, CommandModule } from 'yargs';
import { activityEventSchema } from '../../contract/activity.js';
import { alertsFileSchema } from '../../contract/alerts.js';
import { parseJsonWith } from '../../contract/parse.js';
import { pmStateSchema } from '../../contract/pm-state.js';
import { SPEC_FOLDERS } from '../../contract/worker-spec.js';
import { loadDaemonSettings, loadWorkerTypes } from '../../config/load.js';
import { describeError } from '../../errors.js';
import { readTextIfExists } from '../../store/atomic.js';
import { listCheckinIds, readCheckin } from '../../store/checkins.js';
import type { HomePaths } from '../../store/home.js';
import { listSpecIds, readSpec } from '../../store/specs.js';
import { readTaskQueue } from '../../store/tasks.js';
import { readDispatchPauses } from '../../store/dispatch-pauses.js';
import { isWholeRecord } from '../../store/exits.js';
import { findTempFiles, isExitRecordTemp, STALE_TEMP_MS } from '../../store/temp-files.js';
import { formatDuration } from '../../ops/format.js';
import { homeFromEnv, printJson } from '../context.js';

export interface Problem {
  readonly file: string;
  readonly problem: string;
}

/**
 * Temp files a writer left (see src/store/temp-files.ts), one warning each: never a problem, since one may be a
 * write under way. One older than STALE_TEMP_MS is a killed writer's, which the daemon removes.
 */
export function tempFileWarnings(paths: HomePaths, nowMs: number): Problem[] {
  return findTempFiles(paths, nowMs).map((t) => {
    const age = formatDuration(t.ageMs / 1000);
    const exitRecord = isExitRecordTemp(paths, t) && isWholeRecord(t.file);
    const what = exitRecord
      ? `exit record of ${t.of} left at its temp name, ${age} old (the daemon moves it into place as it hears its shim end, or the next reader does; keep it)`
      : t.ageMs >= STALE_TEMP_MS
        ? `leftover temp file of ${t.of}, ${age} old (a writer was killed; the daemon removes it)`
        : `temp file of ${t.of}, ${age} old (a write under way, or a writer just killed)`;
    return { file: t.file, problem: what };
  });
}

/** Checks every file of a home against the contract; returns each problem with its path. */
export function validateHome(paths: HomePaths): { problems: Problem[]; checked: number } {
  const problems: Problem[] = [];
  let checked = 0;
  const check = (file: string, fn: () => void): void => {
    checked += 1;
    try {
      fn();
    } catch (error) {
      problems.push({ file, problem: describeError(error).replace(`${file}: `, '') });
    }
  };
  let typeNames: string[] = [];
  check(paths.workerTypes, () => {
    typeNames = Object.keys(loadWorkerTypes(paths).types);
  });
  check(paths.daemonConfig, () => void loadDaemonSettings(paths, {}));
  for (const folder of SPEC_FOLDERS) {
    for (const id of listSpecIds(paths, folder)) {
      const read = readSpec(paths, folder, id);
      if (read === undefined) continue;
      checked += 1;
      if (!read.ok) problems.push({ file: read.file, problem: read.error.message.replace(`${read.file}: `, '') });
      // A finished spec of a type since removed is history, not a problem; a running one is supervised under the limits it started with.
      else if (folder === 'active' && typeNames.length > 0 && !typeNames.includes(read.spec.worker_type)) {
        const type = read.spec.worker_type;
        const running = read.spec.status === 'running';
        problems.push({ file: read.file, problem: `unknown worker_type "${type}"${running ? ' (no longer in worker-types.json: the daemon supervises this run under the limits it started with and will not restart it)' : ' (not started until worker-types.json defines it)'}` });
      }
      else if (folder === 'active' && (read.spec.status === 'completed' || read.spec.status === 'failed')) problems.push({ file: read.file, problem: `status "${read.spec.status}" in active/ (the daemon moves it on its next pass)` });
    }
  }
  for (const id of listCheckinIds(paths)) {
    checked += 1;
    let read;
    try {
      read = readCheckin(paths, id);
    } catch (error) {
      problems.push({ file: `${paths.checkins}/${id}.json`, problem: describeError(error) });
      continue;
    }
    if (read !== undefined && !read.ok) problems.push({ file: paths.checkinFile(id), problem: read.reason.replace(`${paths.checkinFile(id)}: `, '') });
  }
  check(paths.taskQueue, () => void readTaskQueue(paths));
  if (readTextIfExists(paths.dispatchPauses) !== undefined) check(paths.dispatchPauses, () => void readDispatchPauses(paths));
  for (const [file, schema] of [
    [paths.pmState, pmStateSchema],
    [paths.alerts, alertsFileSchema],
  ] as const) {
    const text = readTextIfExists(file);
    if (text !== undefined) check(file, () => void parseJsonWith(schema, text, file));
  }
  const activity = readTextIfExists(paths.activity, { maxBytes: Number.POSITIVE_INFINITY });
  if (activity !== undefined) {
    checked += 1;
    const bad: number[] = [];
    const lines = activity.split('\n');
    lines.forEach((line, index) => {
      if (line === '' && index === lines.length - 1) return;
      try {
        if (!activityEventSchema.safeParse(JSON.parse(line)).success) bad.push(index + 1);
      } catch {
        bad.push(index + 1);
      }
    });
    if (bad.length > 0) problems.push({ file: paths.activity, problem: `${bad.length} line(s) are not contract events (first: line ${bad[0]})` });
  }
  return { problems, checked };
}

export const validateCommand: CommandModule<object, { json: boolean }> = {
  command: 'validate',
  describe: 'Check every file of the home against the contract and list each problem with its path',
  builder: (y: Argv) => y.option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' }) as unknown as Argv<{ json: boolean }>,
  handler: (argv) => {
    const paths = homeFromEnv();
    const { problems, checked } = validateHome(paths);
    const warnings = tempFileWarnings(paths, Date.now());
    if (argv.json) printJson({ home: paths.home, files_checked: checked, problems, warnings });
    else {
      for (const p of problems) process.stdout.write(`${p.file}: ${p.problem}\n`);
      for (const w of warnings) process.stdout.write(`${w.file}: warning: ${w.problem}\n`);
      process.stdout.write(`${checked} file(s) checked, ${problems.length} problem(s)${warnings.length > 0 ? `, ${warnings.length} warning(s)` : ''}\n`);
    }
    // Warnings (temp files) never change the exit code: 1 only for problems.
    if (problems.length > 0) process.exitCode = 1;
  },
};

