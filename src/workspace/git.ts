import { execFile } from 'node:child_process';

/** What one git command said: its exit status (null when it could not run or was killed), stdout and stderr. */
export interface GitResult {
  readonly ok: boolean;
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const GIT_TIMEOUT_MS = 120_000;

/**
 * Runs git with an argv list (never a shell), its output captured, never prompting for anything. Asynchronous: a
 * `git worktree add` of a big repository checks out its whole tree, and the daemon's loop must not wait for it.
 */
export function git(args: readonly string[], options: { cwd?: string } = {}): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      {
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        encoding: 'utf8',
        timeout: GIT_TIMEOUT_MS,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
      },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ ok: true, status: 0, stdout, stderr });
        const status = typeof error.code === 'number' ? error.code : null;
        resolve({ ok: false, status, stdout, stderr: stderr !== '' ? stderr : error.message });
      },
    );
  });
}

/** git's own reason in one line: the last line of its stderr that says something (else its exit status). */
export function gitReason(result: GitResult): string {
  const lines = result.stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const last = lines.at(-1);
  if (last !== undefined) return last.replace(/^(fatal|error): /, '');
  return result.status === null ? 'git could not be run' : `git exited with status ${result.status}`;
}

/** The trimmed stdout of a git command that succeeded, else undefined. */
export async function gitOutput(args: readonly string[], options: { cwd?: string } = {}): Promise<string | undefined> {
  const result = await git(args, options);
  return result.ok ? result.stdout.trim() : undefined;
}
