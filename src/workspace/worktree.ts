import { existsSync, lstatSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { WorkspaceConfig } from '../contract/worker-types.js';
import { RelayError, quote } from '../errors.js';
import type { HomePaths } from '../store/home.js';
import { git, gitOutput, gitReason } from './git.js';

/** What a worker's spec records of its workspace (top-level `workspace`): where it is and what it came from. */
export interface WorkspaceRecord {
  readonly path: string;
  readonly repo: string;
  readonly branch: string;
  readonly base: string;
}

export const workspaceBranch = (workerId: string): string => `relay/${workerId}`;

const failed = (message: string): RelayError => new RelayError('SPAWN_FAILED', `cannot start: workspace: ${message}`);

const realpathOr = (path: string): string => {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
};

/** The repository a workspace config names, absolute (relative to the home), and its shared git folder; throws SPAWN_FAILED. */
async function resolveRepo(paths: HomePaths, config: WorkspaceConfig): Promise<{ repo: string; commonDir: string }> {
  const repo = isAbsolute(config.git_worktree.repo) ? config.git_worktree.repo : resolve(paths.home, config.git_worktree.repo);
  let isDir = false;
  try {
    isDir = statSync(repo).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw failed(`repository ${quote(config.git_worktree.repo)} not found (${repo} is not a folder)`);
  const commonDir = await gitOutput(['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: repo });
  if (commonDir === undefined) throw failed(`${repo} is not a git repository`);
  return { repo, commonDir: realpathOr(commonDir) };
}

/** Is `dir` the top of a worktree of this repository with `branch` checked out? */
async function isWorktreeOf(dir: string, commonDir: string, branch: string): Promise<boolean> {
  const top = await gitOutput(['rev-parse', '--path-format=absolute', '--show-toplevel', '--git-common-dir'], { cwd: dir });
  if (top === undefined) return false;
  const [toplevel, common] = top.split('\n');
  if (toplevel === undefined || common === undefined) return false;
  if (realpathOr(toplevel) !== realpathOr(dir) || realpathOr(common) !== commonDir) return false;
  return (await gitOutput(['symbolic-ref', '--quiet', 'HEAD'], { cwd: dir })) === `refs/heads/${branch}`;
}

/** Worktree changes of one repository, one at a time in this process (`--track` writes the repository's config, under git's lock). */
const queues = new Map<string, Promise<unknown>>();

function oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const next = (queues.get(key) ?? Promise.resolve()).then(fn, fn);
  queues.set(key, next);
  const forget = (): void => {
    if (queues.get(key) === next) queues.delete(key);
  };
  next.then(forget, forget);
  return next;
}

const LOCK_BUSY = /\.lock\b|could not lock|unable to create .*: file exists/i;
/** A worktree folder removed by hand leaves its registration behind, which refuses the path until a prune. */
const STALE_REGISTRATION = /missing but already registered worktree/i;
/** Another process's prune removed this add's half-made registration (a person's `git worktree prune`, an older starter). */
const REGISTRATION_GONE = /could not open '[^']*worktrees\/[^']*' for writing/i;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `git worktree add`, tried again a few times while another process holds one of the repository's locks (another
 * starter, or a person's git). A retry finds the branch made by a try that failed later, and uses it. It prunes only
 * when a stale registration refuses the path: a prune while another starter adds its worktree would delete that
 * one's registration before its gitdir file is written, and fail it.
 */
async function addWorktree(repo: string, dir: string, branch: string, base: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const branchExists = (await git(['show-ref', '--verify', '--quiet', `refs/heads/${branch}`], { cwd: repo })).ok;
    // A branch base is the new branch's upstream, so `git branch -d` later asks whether the work is merged into the base.
    const baseIsBranch = (await git(['show-ref', '--verify', '--quiet', `refs/heads/${base}`], { cwd: repo })).ok;
    const args = branchExists ? ['worktree', 'add', dir, branch] : ['worktree', 'add', ...(baseIsBranch ? ['--track'] : []), '-b', branch, dir, base];
    const added = await git(args, { cwd: repo });
    if (added.ok) {
      // A retry after `--track` made the branch but could not write its upstream (the config's lock was another's) adds
      // the worktree without it: the upstream is set here, as on a first try.
      if (baseIsBranch) await ensureUpstream(repo, branch, base);
      return;
    }
    const stale = STALE_REGISTRATION.test(added.stderr);
    const retry = stale || LOCK_BUSY.test(added.stderr) || REGISTRATION_GONE.test(added.stderr);
    if (attempt >= 5 || !retry || existsSync(dir)) throw failed(`git worktree add failed: ${gitReason(added)}`);
    if (stale) await git(['worktree', 'prune'], { cwd: repo });
    else await sleep(50 * attempt + Math.floor(Math.random() * 50));
  }
}

/** The branch's upstream is the base branch: set when it is not, tried again while another holds the config's lock. */
async function ensureUpstream(repo: string, branch: string, base: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    if ((await gitOutput(['rev-parse', '--abbrev-ref', `${branch}@{upstream}`], { cwd: repo })) !== undefined) return;
    const set = await git(['branch', `--set-upstream-to=${base}`, branch], { cwd: repo });
    if (set.ok) return;
    if (attempt >= 5 || !LOCK_BUSY.test(set.stderr)) throw failed(`cannot set the upstream of ${branch} to ${base}: ${gitReason(set)}`);
    await sleep(50 * attempt + Math.floor(Math.random() * 50));
  }
}

/**
 * The worker's own git worktree, workspaces/<worker_id> on branch relay/<worker_id> from the base: made before its
 * first start, reused as it is on every later start (never recreated or reset: a resumed agent finds its files).
 * Anything else at that path, a missing repository or base, or a git error throws SPAWN_FAILED in one line, so the
 * worker never runs in the wrong folder.
 */
export async function ensureWorkspace(paths: HomePaths, workerId: string, config: WorkspaceConfig): Promise<WorkspaceRecord> {
  const { repo, commonDir } = await resolveRepo(paths, config);
  const base = config.git_worktree.base;
  const branch = workspaceBranch(workerId);
  const dir = paths.workspaceDir(workerId);
  const record: WorkspaceRecord = { path: dir, repo, branch, base };
  let exists = true;
  try {
    const stat = lstatSync(dir);
    if (!stat.isDirectory()) throw failed(`${dir} exists and is not a folder`);
  } catch (error) {
    if (error instanceof RelayError) throw error;
    exists = false;
  }
  if (exists) {
    if (await isWorktreeOf(dir, commonDir, branch)) return record;
    throw failed(`${dir} exists but is not a worktree of ${repo} on branch ${branch}: move it away or remove it`);
  }
  if ((await gitOutput(['rev-parse', '--verify', '--quiet', `${base}^{commit}`], { cwd: repo })) === undefined) {
    throw failed(`base branch ${quote(base)} not found in ${repo}`);
  }
  mkdirSync(paths.workspacesRoot, { recursive: true });
  // A link planted as workspaces/ would put the worktree wherever it points.
  if (!lstatSync(paths.workspacesRoot).isDirectory()) throw failed(`${paths.workspacesRoot} is not a folder (a symbolic link?)`);
  await oneAtATime(commonDir, () => addWorktree(repo, dir, branch, base));
  return record;
}
