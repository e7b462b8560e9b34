// Item 7 of issue 11: one git worktree per worker (workspaces/<id> on relay/<id>), kept across restarts, and
// cleanup-workspaces, which never touches an active or live worktree and never drops unmerged work without --force.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { restartWorker, startWorker } from '../../dist/worker/index.js';
import { decideWorkspace } from '../../dist/workspace/cleanup.js';
import { eventsOf, pmState, stopDaemon } from '../helpers/daemon.js';
import { FIXTURES, QUICK, readJsonl, run, waitFor } from '../helpers/home.js';
import { pidOf } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { diffSnapshots, snapshotTree } from '../helpers/snapshots.js';
import { readSpecFile, specPath, uniqueId, writePendingSpec } from '../helpers/specs.js';

const AGENT = join(FIXTURES, 'workspace-agent.sh');
/** The agent's command: where-file under the home, {workspace}, and the mode from the task's description. */
const agentType = (repo, base = 'base') => ({
  command: [AGENT, '{home}/where-{worker_id}.txt', '{workspace}', '{description}'],
  workspace: { git_worktree: { repo, base } },
  ...QUICK,
});

const SCOPE = {
  types: {
    agent: agentType('repo'),
    badrepo: agentType('no/such/repo'),
    badbase: agentType('repo', 'no-such-branch'),
    noprog: { ...agentType('repo'), command: ['./no/such/program', '{workspace}'] },
  },
};

/** git in dir, with an identity of its own (never the user's global config). @param {string} dir @param {string[]} args */
const git = (dir, ...args) => execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid', ...args], { cwd: dir, encoding: 'utf8' }).trim();

/** A repository under the home: main with one commit, and branch `base` from it. @param {string} home */
function makeRepo(home) {
  const repo = join(home, 'repo');
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'README'), 'hello\n');
  git(repo, 'add', 'README');
  git(repo, 'commit', '-q', '-m', 'first');
  git(repo, 'branch', 'base');
  return repo;
}

/** What the agent wrote about where it runs. @param {string} home @param {string} id */
function whereOf(home, id) {
  const file = join(home, `where-${id}.txt`);
  if (!existsSync(file)) return undefined;
  return Object.fromEntries(readFileSync(file, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

const branches = (repo) => git(repo, 'branch', '--format=%(refname:short)').split('\n').filter((b) => b !== '');

test('workspaces: two workers get two worktrees on relay/<id>, run in them, and find {workspace} and COMMIT_RELAY_WORKSPACE', () => withHome(SCOPE, async (t) => {
  const repo = makeRepo(t.home);
  const ids = [uniqueId('ws-a'), uniqueId('ws-b')];
  for (const id of ids) {
    writePendingSpec(t.home, id, { workerType: 'agent', description: 'wait' });
    t.tracker.group((await startWorker(t.ctx(), id)).pid);
  }
  for (const id of ids) {
    const where = await waitFor(() => whereOf(t.home, id), { what: `where-${id}.txt` });
    const dir = join(t.home, 'workspaces', id);
    assert.equal(where.PWD, realpathSync(dir), 'the worker runs in its own worktree');
    assert.equal(where.ARG, dir, '{workspace} is the worktree');
    assert.equal(where.COMMIT_RELAY_WORKSPACE, dir);
    assert.equal(where.BRANCH, `refs/heads/relay/${id}`);
    const spec = readSpecFile(t.home, 'active', id);
    assert.deepEqual(spec.workspace, { path: dir, repo, branch: `relay/${id}`, base: 'base' });
    const started = readJsonl(t.paths.activity).find((e) => e.event === 'worker_started' && e.worker_id === id);
    assert.equal(started?.data.workspace, dir);
  }
  const worktrees = git(repo, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).map((l) => l.slice(9));
  assert.deepEqual(worktrees.slice(1).sort(), ids.map((id) => realpathSync(join(t.home, 'workspaces', id))).sort(), 'one worktree each, beside the main one');
  assert.deepEqual(branches(repo).sort(), ['base', 'main', ...ids.map((id) => `relay/${id}`)].sort());
}));

test('workspaces: workers started at once, in one process and in several, each get their worktree of the one repository', () => withHome(SCOPE, async (t) => {
  const repo = makeRepo(t.home);
  const inProcess = [1, 2, 3].map(() => uniqueId('ws-par'));
  const byCommand = [1, 2, 3].map(() => uniqueId('ws-cmd'));
  for (const id of [...inProcess, ...byCommand]) writePendingSpec(t.home, id, { workerType: 'agent', description: 'wait' });
  const [started, commands] = await Promise.all([
    Promise.all(inProcess.map((id) => startWorker(t.ctx(), id))),
    Promise.all(byCommand.map((id) => run(t.home, ['--spec', specPath(t.home, 'active', id)], { script: 'start-worker.sh' }))),
  ]);
  for (const result of started) t.tracker.group(result.pid);
  for (const result of commands) assert.equal(result.code, 0, result.stderr);
  for (const id of [...inProcess, ...byCommand]) {
    const where = await waitFor(() => whereOf(t.home, id), { what: `where-${id}.txt` });
    assert.equal(where.PWD, realpathSync(join(t.home, 'workspaces', id)));
    assert.equal(where.BRANCH, `refs/heads/relay/${id}`);
    assert.equal(git(repo, 'rev-parse', '--abbrev-ref', `relay/${id}@{upstream}`), 'base', 'its upstream is the base');
  }
}));

test('workspaces: an add whose upstream could not be written (the config\'s lock another\'s) is tried again and still gets its upstream', () => withHome(SCOPE, async (t) => {
  const repo = makeRepo(t.home);
  const id = uniqueId('ws-lock');
  writePendingSpec(t.home, id, { workerType: 'agent', description: 'wait' });
  // Another git holds the config's lock: the first `worktree add --track -b` makes the branch, then fails on the upstream.
  const lock = join(repo, '.git', 'config.lock');
  writeFileSync(lock, '');
  const starting = startWorker(t.ctx(), id);
  await waitFor(() => existsSync(join(repo, '.git', 'refs', 'heads', 'relay', id)), { what: 'the branch made by the first try', intervalMs: 2 });
  rmSync(lock);
  const started = await starting;
  t.tracker.group(started.pid);
  await waitFor(() => whereOf(t.home, id), { what: `where-${id}.txt` });
  assert.equal(git(repo, 'rev-parse', '--abbrev-ref', `relay/${id}@{upstream}`), 'base', 'its upstream is the base');
}));

test('workspaces: a restart keeps the same worktree and the uncommitted file the worker left there', () => withHome(SCOPE, async (t) => {
  makeRepo(t.home);
  const id = uniqueId('ws-keep');
  writePendingSpec(t.home, id, { workerType: 'agent', description: 'wait' });
  const first = await startWorker(t.ctx(), id);
  t.tracker.group(first.pid);
  const notes = join(t.home, 'workspaces', id, 'notes.txt');
  await waitFor(() => existsSync(notes), { what: 'notes.txt in the worktree' });
  const written = readFileSync(notes, 'utf8');
  assert.match(written, new RegExp(first.runId));
  const second = await restartWorker(t.ctx(), id);
  t.tracker.group(second.pid);
  assert.notEqual(second.runId, first.runId);
  const where = await waitFor(() => whereOf(t.home, id)?.NOTES === written.trim() && whereOf(t.home, id), { what: 'the second run to find notes.txt' });
  assert.equal(where.PWD, realpathSync(join(t.home, 'workspaces', id)));
  assert.equal(readFileSync(notes, 'utf8'), written, 'never recreated or reset');
  assert.equal(readSpecFile(t.home, 'active', id).workspace.path, join(t.home, 'workspaces', id));
}));

test('workspaces: a worktree folder removed by hand is made again on the next start (its stale registration pruned)', () => withHome(SCOPE, async (t) => {
  makeRepo(t.home);
  const id = uniqueId('ws-gone');
  writePendingSpec(t.home, id, { workerType: 'agent', description: 'wait' });
  const first = await startWorker(t.ctx(), id);
  t.tracker.group(first.pid);
  const dir = join(t.home, 'workspaces', id);
  await waitFor(() => existsSync(join(dir, 'notes.txt')), { what: 'notes.txt in the worktree' });
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(t.home, `where-${id}.txt`));
  const second = await restartWorker(t.ctx(), id);
  t.tracker.group(second.pid);
  const where = await waitFor(() => whereOf(t.home, id), { what: 'the second run in its new worktree' });
  assert.equal(where.PWD, realpathSync(dir));
  assert.equal(where.BRANCH, `refs/heads/relay/${id}`);
}));

test('workspaces: the daemon restarts a crashed worker in the same worktree, its uncommitted file still there', () => withHome(SCOPE, async (t) => {
  makeRepo(t.home);
  const id = uniqueId('ws-crash');
  writePendingSpec(t.home, id, { workerType: 'agent', description: 'crashonce' });
  await t.startDaemon();
  const where = await waitFor(() => whereOf(t.home, id)?.RESTART === '1' && whereOf(t.home, id), { what: 'the restarted run', timeoutMs: 20_000 });
  assert.equal(where.PWD, realpathSync(join(t.home, 'workspaces', id)));
  assert.match(where.NOTES, /^written by run run-/, 'the first run\'s uncommitted file is there for the second');
  // The second run may be at work an instant before its worker_started line is appended.
  const started = await waitFor(() => {
    const seen = eventsOf(t.home, id, 'worker_started');
    return seen.length >= 2 && seen;
  }, { what: 'both runs\' worker_started' });
  assert.equal(started.length, 2);
  assert.deepEqual(started.map((e) => e.data.workspace), [join(t.home, 'workspaces', id), join(t.home, 'workspaces', id)]);
}));

test('workspaces: something else at workspaces/<id> fails the start and is left as it was', () => withHome(SCOPE, async (t) => {
  makeRepo(t.home);
  const id = uniqueId('ws-squat');
  const dir = join(t.home, 'workspaces', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'precious.txt'), 'mine\n');
  writePendingSpec(t.home, id, { workerType: 'agent', description: 'wait' });
  await assert.rejects(startWorker(t.ctx(), id), /workspace: .* exists but is not a worktree of .* on branch relay\//);
  assert.equal(readFileSync(join(dir, 'precious.txt'), 'utf8'), 'mine\n');
  assert.equal(whereOf(t.home, id), undefined, 'the agent never ran');
  assert.equal(readSpecFile(t.home, 'failed', id).status, 'failed');
}));

test('workspaces: a link planted as workspaces/ is refused, and nothing is made where it points', () => withHome(SCOPE, async (t) => {
  makeRepo(t.home);
  const elsewhere = join(t.home, 'elsewhere');
  mkdirSync(elsewhere);
  symlinkSync(elsewhere, join(t.home, 'workspaces'));
  const id = uniqueId('ws-link');
  writePendingSpec(t.home, id, { workerType: 'agent', description: 'wait' });
  await assert.rejects(startWorker(t.ctx(), id), /workspace: .*workspaces is not a folder/);
  assert.deepEqual(readdirSync(elsewhere), []);
  const cleanup = await run(t.home, ['--force'], { script: 'cleanup-workspaces.sh' });
  assert.equal(cleanup.code, 0, cleanup.stderr);
  assert.match(cleanup.stdout, /^0 workspaces/);
}));

test('decideWorkspace: active and live are never removed; dirty or unmerged only with force; an unknown folder never', () => {
  /** @typedef {Parameters<typeof decideWorkspace>[0]} Facts */
  /** @type {Facts} */
  const facts = { worker_id: 'w', path: '/h/workspaces/w', branch: 'relay/w', spec: 'completed', repo: '/r', base: 'main', is_worktree: true, live_pids: [], clean: true, merged: true };
  /** @type {[Partial<Facts>, boolean, 'remove' | 'keep', RegExp][]} */
  const cases = [
    [{}, false, 'remove', /worker completed, merged into main, clean/],
    [{ spec: null }, false, 'remove', /no spec/],
    [{ spec: 'active' }, true, 'keep', /in active/],
    [{ live_pids: [12, 13] }, true, 'keep', /live processes 12, 13/],
    [{ is_worktree: false, repo: null }, true, 'keep', /not a git worktree/],
    [{ clean: false }, false, 'keep', /uncommitted changes \(--force/],
    [{ clean: false }, true, 'remove', /--force: uncommitted changes/],
    [{ merged: false }, false, 'keep', /commits not merged into main/],
    [{ merged: null, base: null }, false, 'keep', /base unknown/],
    [{ merged: false, clean: false, spec: 'failed' }, true, 'remove', /worker failed, --force: uncommitted changes, commits not merged/],
  ];
  for (const [change, force, action, reason] of cases) {
    const decision = decideWorkspace({ ...facts, ...change }, force);
    assert.equal(decision.action, action, JSON.stringify(change));
    assert.match(decision.reason, reason);
  }
});

test('workspaces: a missing repository or base branch fails the start in one line, and nothing runs', () => withHome(SCOPE, async (t) => {
  makeRepo(t.home);
  for (const [type, pattern] of /** @type {const} */ ([
    ['badrepo', /workspace: repository "no\/such\/repo" not found/],
    ['badbase', /workspace: base branch "no-such-branch" not found/],
  ])) {
    const id = uniqueId(`ws-${type}`);
    writePendingSpec(t.home, id, { workerType: type, description: 'wait' });
    await assert.rejects(startWorker(t.ctx(), id), (error) => {
      assert.equal(/** @type {any} */ (error).code, 'SPAWN_FAILED');
      assert.match(/** @type {Error} */ (error).message, pattern);
      assert.doesNotMatch(/** @type {Error} */ (error).message, /\n/);
      return true;
    });
    const failed = readSpecFile(t.home, 'failed', id);
    assert.equal(failed.status, 'failed');
    assert.match(failed.error, pattern);
    assert.equal(whereOf(t.home, id), undefined, 'the agent never ran');
    assert.equal(existsSync(join(t.home, 'workspaces', id)), false);
  }
  // The same through the command: one line on stderr, a non-zero exit.
  const id = uniqueId('ws-cli');
  writePendingSpec(t.home, id, { workerType: 'badrepo', description: 'wait' });
  const result = await run(t.home, ['--spec', specPath(t.home, 'active', id)], { script: 'start-worker.sh' });
  assert.notEqual(result.code, 0);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /repository "no\/such\/repo" not found/);
}));

test('workspaces: a bad workspace key is refused when worker-types.json loads, naming it', () => withHome({ types: { agent: { command: ['true'], workspace: { git_worktree: { repo: 'repo', base: '--upload-pack=x' } } } } }, async (t) => {
  const id = uniqueId('ws-badcfg');
  writePendingSpec(t.home, id, { workerType: 'agent' });
  const result = await run(t.home, ['--spec', specPath(t.home, 'active', id)], { script: 'start-worker.sh' });
  assert.notEqual(result.code, 0);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /workspace/);
  assert.equal(readSpecFile(t.home, 'active', id).status, 'pending', 'no change');
}));

test('cleanup-workspaces: keeps active, live, dirty and unmerged ones; removes merged clean ones; --force the rest; --dry-run changes nothing', () => withHome(SCOPE, async (t) => {
  const repo = makeRepo(t.home);
  const active = uniqueId('cw-active');
  const clean = uniqueId('cw-clean');
  const dirty = uniqueId('cw-dirty');
  const unmerged = uniqueId('cw-unmerged');
  const merged = uniqueId('cw-merged');
  const busy = uniqueId('cw-busy');
  const token = uniqueId('cw-token');
  const unknown = uniqueId('cw-unknown');
  const archived = uniqueId('cw-archived');
  const failed = uniqueId('cw-failed');
  const modes = { [active]: 'wait', [clean]: 'exit', [dirty]: 'dirty', [unmerged]: 'commit', [merged]: 'commit', [busy]: 'exit', [token]: 'exit', [unknown]: 'exit' };
  for (const [id, mode] of Object.entries(modes)) writePendingSpec(t.home, id, { workerType: 'agent', description: mode });
  // Its worktree is made, then its program is found missing: a failed worker with a clean worktree, archived below.
  writePendingSpec(t.home, archived, { workerType: 'noprog' });
  const daemon = await t.startDaemon();
  for (const id of [clean, dirty, unmerged, merged, busy, token, unknown]) {
    await waitFor(() => existsSync(specPath(t.home, 'completed', id)), { what: `${id} completed`, timeoutMs: 20_000 });
  }
  await waitFor(() => existsSync(specPath(t.home, 'failed', archived)), { what: `${archived} failed` });
  await waitFor(() => whereOf(t.home, active), { what: 'the active worker to run' });
  // pm-state.json shows where each running worker works.
  await waitFor(() => pmState(t.home).monitored_workers[active]?.workspace === join(t.home, 'workspaces', active), { what: "the active worker's workspace in pm-state.json" });
  await stopDaemon(daemon);
  const archive = await run(t.home, [], { script: 'archive-failed-workers.sh' });
  assert.equal(archive.code, 0, archive.stderr);
  writePendingSpec(t.home, failed, { workerType: 'noprog' });
  await assert.rejects(startWorker(t.ctx(), failed), /program .* not found/);
  rmSync(specPath(t.home, 'completed', unknown));
  // The base takes one worker's commits (as a merge would); a process (not a worker) works inside another's tree.
  git(repo, 'branch', '-f', 'base', `relay/${merged}`);
  const sleeper = spawn('sleep', ['600'], { cwd: join(t.home, 'workspaces', busy), detached: true, stdio: 'ignore' });
  sleeper.unref();
  t.tracker.group(pidOf(sleeper));
  await waitFor(() => realpathSync(`/proc/${pidOf(sleeper)}/cwd`) === realpathSync(join(t.home, 'workspaces', busy)), { what: 'the sleeper in its folder' });
  // Another works elsewhere but carries a finished worker's last run token (a grandchild left behind).
  const runId = readSpecFile(t.home, 'completed', token).execution.run_id;
  const heir = spawn('sleep', ['600'], { cwd: t.home, detached: true, stdio: 'ignore', env: { ...process.env, COMMIT_RELAY_RUN_ID: runId } });
  heir.unref();
  t.tracker.group(pidOf(heir));

  const before = { home: snapshotTree(t.home) };
  const dry = await run(t.home, ['--dry-run', '--force'], { script: 'cleanup-workspaces.sh' });
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(diffSnapshots(before.home, snapshotTree(t.home)), [], '--dry-run changes nothing');
  const dryLines = dry.stdout.trim().split('\n');
  assert.equal(dryLines.length, 11, dry.stdout);
  assert.match(dryLines.find((l) => l.includes(token)) ?? '', new RegExp(`^keep .*live process.*${pidOf(heir)}`));
  assert.match(dryLines.find((l) => l.includes(active)) ?? '', /^keep .*in active\//);
  assert.match(dryLines.find((l) => l.includes(busy)) ?? '', new RegExp(`^keep .*live process.*${pidOf(sleeper)}`));
  for (const id of [clean, dirty, unmerged, merged, unknown, archived, failed]) assert.match(dryLines.find((l) => l.includes(id)) ?? '', /^would remove /);

  const first = await run(t.home, [], { script: 'cleanup-workspaces.sh' });
  assert.equal(first.code, 0, first.stderr);
  const line = (out, id) => out.split('\n').find((l) => l.includes(` ${id}:`)) ?? '';
  assert.match(line(first.stdout, clean), /^removed .*merged into base, clean; branch relay\/.* deleted/);
  assert.match(line(first.stdout, merged), /^removed .*; branch relay\/.* deleted/);
  assert.match(line(first.stdout, dirty), /^kept .*uncommitted changes \(--force removes it\)/);
  assert.match(line(first.stdout, unmerged), /^kept .*commits not merged into base/);
  assert.match(line(first.stdout, active), /^kept .*in active\//);
  assert.match(line(first.stdout, busy), /^kept .*live process/);
  assert.match(line(first.stdout, unknown), /^removed .*no spec \(unknown worker\), merged into base, clean/);
  assert.match(line(first.stdout, archived), /^removed .*worker archived, merged into base, clean/);
  assert.match(line(first.stdout, failed), /^removed .*worker failed, merged into base, clean/);
  const exists = (id) => existsSync(join(t.home, 'workspaces', id));
  assert.deepEqual([clean, merged, unknown, archived, failed].map(exists), [false, false, false, false, false]);
  assert.deepEqual([active, dirty, unmerged, busy].map(exists), [true, true, true, true]);
  assert.ok(existsSync(join(t.home, 'workspaces', dirty, 'scratch.txt')), 'the dirty file is still there');
  assert.ok(branches(repo).includes(`relay/${unmerged}`), 'the unmerged branch is kept');
  assert.ok(!branches(repo).includes(`relay/${clean}`) && !branches(repo).includes(`relay/${merged}`));

  const forced = await run(t.home, ['--force', '--json'], { script: 'cleanup-workspaces.sh' });
  assert.equal(forced.code, 0, forced.stderr);
  const outcome = Object.fromEntries(JSON.parse(forced.stdout).workspaces.map((w) => [w.worker_id, w]));
  assert.equal(outcome[dirty].removed, true);
  assert.equal(outcome[unmerged].removed, true);
  assert.equal(outcome[unmerged].branch_deleted, true);
  assert.equal(outcome[active].removed, false, 'never an active worker, even with --force');
  assert.equal(outcome[busy].removed, false, 'never one with a live process, even with --force');
  assert.equal(outcome[token].removed, false, 'never one a process of its run still works for, even with --force');
  assert.deepEqual([active, busy, token].map(exists), [true, true, true]);
  assert.deepEqual([dirty, unmerged].map(exists), [false, false]);
  assert.deepEqual(branches(repo).sort(), ['base', 'main', `relay/${active}`, `relay/${busy}`, `relay/${token}`].sort());
}));

test('cleanup-workspaces: bad flags are refused in one line and change nothing', () => withHome(SCOPE, async (t) => {
  const result = await run(t.home, ['--bogus'], { script: 'cleanup-workspaces.sh' });
  assert.notEqual(result.code, 0);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
}));
