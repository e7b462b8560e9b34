import { existsSync, lstatSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isValidId } from '../contract/ids.js';
import { processesInside } from '../process/group.js';
import type { HomePaths } from '../store/home.js';
import { withSpecLock } from '../store/specs.js';
import { git, gitOutput, gitReason } from './git.js';
import { workspaceBranch } from './worktree.js';

export type SpecPlace = 'active' | 'completed' | 'failed' | 'archived' | null;

/** What cleanup-workspaces found about one folder under workspaces/, and what it does with it. */
export interface WorkspaceFinding {
  readonly worker_id: string;
  readonly path: string;
  readonly branch: string;
  /** Where the worker's spec is (null: no spec anywhere). */
  readonly spec: SpecPlace;
  readonly repo: string | null;
  readonly base: string | null;
  readonly is_worktree: boolean;
  readonly live_pids: readonly number[];
  /** git status --porcelain is empty (null: not looked at). */
  readonly clean: boolean | null;
  /** The branch and the worktree's HEAD are both in the base (null: not looked at, or the base is unknown). */
  readonly merged: boolean | null;
  readonly action: 'remove' | 'keep';
  readonly reason: string;
}

export interface WorkspaceOutcome extends WorkspaceFinding {
  readonly removed: boolean;
  readonly branch_deleted: boolean;
  /** Why a removal or the branch deletion did not happen, in git's words. */
  readonly error: string | null;
}

type Facts = Omit<WorkspaceFinding, 'action' | 'reason'>;

/**
 * The decision, from the facts alone: a worker in active/ or a folder with a live process is never touched; a
 * folder that is not a worktree of a known repository is left to a person; --force only overrides dirty and unmerged.
 */
export function decideWorkspace(facts: Facts, force: boolean): { action: 'remove' | 'keep'; reason: string } {
  if (facts.spec === 'active') return { action: 'keep', reason: 'the worker is in active/' };
  if (facts.live_pids.length > 0) return { action: 'keep', reason: `live process${facts.live_pids.length === 1 ? '' : 'es'} ${facts.live_pids.join(', ')} in it` };
  if (!facts.is_worktree || facts.repo === null) return { action: 'keep', reason: `not a git worktree of a known repository on ${facts.branch}: left for a person` };
  const finished = facts.spec === null ? 'no spec (unknown worker)' : `worker ${facts.spec}`;
  const problems: string[] = [];
  if (facts.clean !== true) problems.push('uncommitted changes');
  if (facts.merged !== true) problems.push(facts.base === null ? 'base unknown, merge not proven' : `commits not merged into ${facts.base}`);
  if (problems.length === 0) return { action: 'remove', reason: `${finished}, merged into ${facts.base ?? '?'}, clean` };
  if (force) return { action: 'remove', reason: `${finished}, --force: ${problems.join(', ')}` };
  return { action: 'keep', reason: `${finished}, ${problems.join(', ')} (--force removes it)` };
}

const realpathOr = (path: string): string => {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
};

interface SpecFacts {
  readonly place: SpecPlace;
  readonly repo: string | null;
  readonly base: string | null;
  readonly runId: string | null;
}

function readLoose(file: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const stringAt = (value: unknown, key: string): string | null => {
  if (typeof value !== 'object' || value === null) return null;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' && field !== '' ? field : null;
};

/** Where the worker's spec is and what it recorded of its workspace and its last run (a broken spec: where only). */
function specFacts(paths: HomePaths, workerId: string): SpecFacts {
  const candidates: { place: Exclude<SpecPlace, null>; file: string }[] = [
    { place: 'active', file: paths.specFile('active', workerId) },
    { place: 'completed', file: paths.specFile('completed', workerId) },
    { place: 'failed', file: paths.specFile('failed', workerId) },
  ];
  let batches: string[] = [];
  try {
    batches = readdirSync(paths.archivedDir()).sort().reverse();
  } catch {
    batches = [];
  }
  for (const batch of batches) candidates.push({ place: 'archived', file: join(paths.archivedDir(), batch, `${workerId}.json`) });
  for (const { place, file } of candidates) {
    if (!existsSync(file)) continue;
    const spec = readLoose(file);
    return { place, repo: stringAt(spec?.workspace, 'repo'), base: stringAt(spec?.workspace, 'base'), runId: stringAt(spec?.execution, 'run_id') };
  }
  return { place: null, repo: null, base: null, runId: null };
}

/**
 * The repository a worktree belongs to, when the folder is the top of a worktree: the recorded one when it shares
 * the worktree's git folder, else the folder holding that `.git` (a bare repository without a record: unknown).
 */
async function repoOfWorktree(dir: string, recorded: string | null): Promise<string | null> {
  const commonOf = async (at: string, top: boolean): Promise<string | undefined> => {
    const out = await gitOutput(['rev-parse', '--path-format=absolute', '--show-toplevel', '--git-common-dir'], { cwd: at });
    const [toplevel, common] = (out ?? '').split('\n');
    if (toplevel === undefined || common === undefined || common === '') return undefined;
    if (top && realpathOr(toplevel) !== realpathOr(at)) return undefined;
    return realpathOr(common);
  };
  const common = await commonOf(dir, true);
  if (common === undefined) return null;
  if (recorded !== null) return (await commonOf(recorded, false)) === common ? realpathOr(recorded) : null;
  return basename(common) === '.git' ? dirname(common) : null;
}

/** Every folder under workspaces/ with what is known about it; changes nothing. */
export async function inspectWorkspaces(paths: HomePaths, force: boolean, only?: string): Promise<WorkspaceFinding[]> {
  let names: string[];
  try {
    // Through a link planted as workspaces/, nothing: only the home's own folder is ours to clean.
    if (!lstatSync(paths.workspacesRoot).isDirectory()) return [];
    names = readdirSync(paths.workspacesRoot).sort();
  } catch {
    return [];
  }
  const isFolder = (name: string): boolean => {
    try {
      return lstatSync(join(paths.workspacesRoot, name)).isDirectory();
    } catch {
      return false;
    }
  };
  const ids = names.filter((name) => isValidId(name) && (only === undefined || name === only) && isFolder(name));
  const specs = new Map(ids.map((id) => [id, specFacts(paths, id)]));
  const real = new Map(ids.map((id) => [id, realpathOr(paths.workspaceDir(id))]));
  const runIds = new Map<string, string>();
  for (const id of ids) {
    const runId = specs.get(id)?.runId;
    if (runId !== null && runId !== undefined) runIds.set(real.get(id) ?? '', runId);
  }
  const live = processesInside([...real.values()], runIds);
  const findings: WorkspaceFinding[] = [];
  for (const id of ids) {
    const dir = paths.workspaceDir(id);
    const branch = workspaceBranch(id);
    const spec = specs.get(id) ?? { place: null, repo: null, base: null, runId: null };
    const livePids = live.get(real.get(id) ?? dir) ?? [];
    const repo = spec.place === 'active' || livePids.length > 0 ? null : await repoOfWorktree(dir, spec.repo);
    const isWorktree = repo !== null;
    let clean: boolean | null = null;
    let merged: boolean | null = null;
    let base = spec.base;
    if (repo !== null) {
      const status = await git(['--no-optional-locks', 'status', '--porcelain'], { cwd: dir });
      clean = status.ok ? status.stdout.trim() === '' : null;
      base ??= (await gitOutput(['rev-parse', '--abbrev-ref', `${branch}@{upstream}`], { cwd: repo })) ?? null;
      if (base !== null) {
        const inBase = async (rev: string): Promise<boolean> => (await git(['merge-base', '--is-ancestor', rev, base ?? ''], { cwd: repo })).ok;
        const head = await gitOutput(['rev-parse', '--verify', 'HEAD'], { cwd: dir });
        merged = head !== undefined && (await inBase(`refs/heads/${branch}`)) && (await inBase(head));
      }
    }
    const facts: Facts = { worker_id: id, path: dir, branch, spec: spec.place, repo, base, is_worktree: isWorktree, live_pids: livePids, clean, merged };
    findings.push({ ...facts, ...decideWorkspace(facts, force) });
  }
  return findings;
}

/** Removes one worktree and its branch (`git branch -d`; -D only with --force), under the worker's spec lock. */
async function removeWorkspace(paths: HomePaths, finding: WorkspaceFinding, force: boolean): Promise<WorkspaceOutcome> {
  return withSpecLock(paths, finding.worker_id, async () => {
    // Looked at again under the lock: a worker started since is left alone.
    const [again] = await inspectWorkspaces(paths, force, finding.worker_id);
    if (again?.action !== 'remove' || again.repo === null) {
      return { ...(again ?? finding), action: 'keep' as const, reason: again?.reason ?? 'gone', removed: false, branch_deleted: false, error: null };
    }
    const removed = await git(['worktree', 'remove', ...(force ? ['--force'] : []), again.path], { cwd: again.repo });
    if (!removed.ok) return { ...again, removed: false, branch_deleted: false, error: `git worktree remove: ${gitReason(removed)}` };
    const deleted = await git(['branch', force ? '-D' : '-d', again.branch], { cwd: again.repo });
    return { ...again, removed: true, branch_deleted: deleted.ok, error: deleted.ok ? null : `branch kept: ${gitReason(deleted)}` };
  });
}

/** cleanup-workspaces: --dry-run only inspects; otherwise removes each workspace decided `remove`. */
export async function cleanupWorkspaces(paths: HomePaths, options: { dryRun: boolean; force: boolean }): Promise<WorkspaceOutcome[]> {
  const findings = await inspectWorkspaces(paths, options.force);
  const outcomes: WorkspaceOutcome[] = [];
  for (const finding of findings) {
    if (options.dryRun || finding.action === 'keep') outcomes.push({ ...finding, removed: false, branch_deleted: false, error: null });
    else outcomes.push(await removeWorkspace(paths, finding, options.force));
  }
  return outcomes;
}
