// create-task's input as either entry parses it (the yargs command, src/bin/create-task.ts), checked and
// queued by the one sequence below: every task checked before the home is touched.
import { readFileSync } from 'node:fs';
import { homeFromEnv, parseJsonObjectFlag } from '../cli/context.js';
import { describeError, RelayError } from '../errors.js';
import { checkDraftLines, checkFlagDraft, formatQueued, queueTasks, type CheckedDraft } from './create-tasks.js';

export interface CreateTaskOptions {
  readonly description?: string | undefined;
  readonly priority?: string | undefined;
  readonly 'worker-type'?: string | undefined;
  /** The JSON text of --metadata. */
  readonly metadata?: string | undefined;
  readonly 'task-id'?: string | undefined;
  readonly 'from-file'?: string | undefined;
  readonly json: boolean;
}

/** The flags a line of --from-file gives instead. */
const TASK_FLAGS = ['description', 'priority', 'worker-type', 'metadata', 'task-id'] as const;

/** A --from-file larger than this is refused. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** Runs create-task: returns what it prints on stdout; a RelayError for bad input (nothing changed then). */
export async function runCreateTask(options: CreateTaskOptions, env: NodeJS.ProcessEnv): Promise<string> {
  const fromFile = options['from-file'];
  if (fromFile === undefined && options.description === undefined) throw new RelayError('USAGE', 'Missing required argument: description');
  const extra = TASK_FLAGS.find((f) => options[f] !== undefined);
  if (fromFile !== undefined && extra !== undefined) throw new RelayError('USAGE', `--from-file cannot be used with --${extra} (each line gives its task's fields)`);
  // Check everything before the home is touched: bad input changes nothing, not even a folder.
  const drafts =
    fromFile !== undefined
      ? readDraftsFile(fromFile)
      : [
          checkFlagDraft({
            description: options.description,
            priority: options.priority,
            worker_type: options['worker-type'],
            metadata: parseJsonObjectFlag('metadata', options.metadata),
            task_id: options['task-id'],
          }),
        ];
  const results = await queueTasks(homeFromEnv(env, { create: false }), env, drafts);
  return formatQueued(results, { json: options.json, lines: fromFile !== undefined });
}

/** --from-file FILE (- for stdin): every line read and checked, nothing written yet. */
function readDraftsFile(file: string): CheckedDraft[] {
  const source = file === '-' ? 'stdin' : file;
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new RelayError('USAGE', `--from-file: cannot read ${source}: ${describeError(error)}`);
  }
  if (text.length > MAX_FILE_BYTES) throw new RelayError('USAGE', `--from-file: ${source} is over ${MAX_FILE_BYTES} bytes`);
  return checkDraftLines(text, source);
}
