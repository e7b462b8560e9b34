import { spawnSync } from 'node:child_process';

/** What one git command said: its exit status (null when it could not run or was killed), stdout and stderr. */
export interface GitResult {
  readonly ok: boolean;
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const GIT_TIMEOUT_MS = 30_000;

/**
 * Runs git with an argv list (never a shell), its output captured, never prompting for anything. Synchronous:
 * a worktree is made once per worker, before its first start, and the start waits for it anyway.
 */
export function git(args: readonly string[], options: { cwd?: string } = {}): GitResult {
  const result = spawnSync('git', args, {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: GIT_TIMEOUT_MS,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
  });
  if (result.error !== undefined) return { ok: false, status: null, stdout: '', stderr: result.error.message };
  return { ok: result.status === 0, status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** git's own reason in one line: the last line of its stderr that says something (else its exit status). */
export function gitReason(result: GitResult): string {
  const lines = result.stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const last = lines.at(-1);
  if (last !== undefined) return last.replace(/^(fatal|error): /, '');
  return result.status === null ? 'git could not be run' : `git exited with status ${result.status}`;
}

/** The trimmed stdout of a git command that succeeded, else undefined. */
export function gitOutput(args: readonly string[], options: { cwd?: string } = {}): string | undefined {
  const result = git(args, options);
  return result.ok ? result.stdout.trim() : undefined;
}
