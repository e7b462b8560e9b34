// The runbook ../shared/seeds/004 ("Runbook: Worker Failure"), its commands run as written with bash and jq,
// against a temp home with live fixture workers. Procedures A, D and E are in test/lifecycle/.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventsOf, stopDaemon } from '../helpers/daemon.js';
import { FIXTURES, readJson, ROOT, run, waitFor, JQ_SKIP } from '../helpers/home.js';
import { isAlive } from '../helpers/processes.js';
import { openScope } from '../helpers/scope.js';
import { buildSpec, specPath, writeSpecFile } from '../helpers/specs.js';


const WORKER_ID = 'worker-implementation-001';

/** Runs a runbook snippet with bash from the project root, as an operator would. */
function sh(home, script, env = {}) {
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { cwd: ROOT, env: { ...process.env, COMMIT_RELAY_HOME: home, WORKER_ID, ...env }, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function writePending(home, id) {
  writeSpecFile(home, 'active', buildSpec(id, { worker_type: 'implementation', task_id: `task-${id}`, task: { description: 'implement the thing' }, execution: { exit_code: null, signal: null } }));
}

describe('runbook: worker failure, as written', { skip: JQ_SKIP }, () => {
  let scope;
  let home;
  let daemon;
  before(async () => {
    scope = openScope({
      types: {
        implementation: { command: ['sh', join(FIXTURES, 'checkin-loop.sh'), '0.3'], stop_grace_seconds: 1, checkin_timeout_seconds: 30, stall_timeout_seconds: 60 },
      },
    });
    home = scope.home;
    await run(home, ['validate']);
    writePending(home, WORKER_ID);
    daemon = await scope.startDaemon();
    await waitFor(() => readJson(join(home, 'coordination', 'pm-state.json')).monitored_workers[WORKER_ID]?.health_state === 'healthy', { what: 'a healthy worker' });
  });
  after(() => scope.close());

  test('1. check worker status: the spec and the daemon view', async () => {
    const spec = await sh(home, 'cat $COMMIT_RELAY_HOME/coordination/worker-specs/active/${WORKER_ID}.json | jq .');
    assert.equal(spec.code, 0, spec.stderr);
    assert.equal(JSON.parse(spec.stdout).status, 'running');
    const state = await sh(home, 'jq ".monitored_workers[\\"$WORKER_ID\\"]" $COMMIT_RELAY_HOME/coordination/pm-state.json');
    assert.equal(state.code, 0, state.stderr);
    const view = JSON.parse(state.stdout);
    assert.equal(view.worker_id, WORKER_ID);
    assert.equal(view.health_state, 'healthy');
    assert.equal(view.pid, readJson(specPath(home, 'active', WORKER_ID)).execution.pid);
  });

  test('2. check for process: ps aux | grep finds it', async () => {
    const result = await sh(home, 'ps aux | grep -i "$WORKER_ID" | grep -v grep');
    assert.equal(result.code, 0);
    const pid = readJson(specPath(home, 'active', WORKER_ID)).execution.pid;
    assert.ok(result.stdout.split('\n').some((line) => line.split(/\s+/)[1] === String(pid)), result.stdout);
  });

  test('3. check last activity: grep the activity log', async () => {
    const result = await sh(home, 'grep "$WORKER_ID" $COMMIT_RELAY_HOME/coordination/pm-activity.jsonl | tail -10 | jq .');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /"event": "(worker_started|checkin_received)"/);
  });

  test('4. check worker logs: its log folder and the daemon log', async () => {
    const logs = await sh(home, 'ls -la $COMMIT_RELAY_HOME/agents/logs/ | grep "$WORKER_ID"');
    assert.equal(logs.code, 0, logs.stderr);
    await waitFor(async () => (await sh(home, 'tail -100 $COMMIT_RELAY_HOME/agents/logs/system/pm-daemon.log | grep "$WORKER_ID"')).stdout.includes(WORKER_ID), {
      what: 'the daemon log to name the worker',
    });
  });

  test('5. identify zombie workers: the stalled query and the zombie loop run', async () => {
    const stalled = await sh(home, `jq '.monitored_workers | to_entries[] | select(.value.health_state == "stalled") | .key' $COMMIT_RELAY_HOME/coordination/pm-state.json`);
    assert.equal(stalled.code, 0, stalled.stderr);
    assert.equal(stalled.stdout.trim(), '');
    const loop = await sh(
      home,
      `find $COMMIT_RELAY_HOME/coordination/worker-specs/active -name "*.json" \\
    -exec sh -c '
        status=$(jq -r ".status" "$1")
        if [ "$status" = "running" ]; then
            worker_id=$(jq -r ".worker_id" "$1")
            if ! ps aux | grep -q "$worker_id"; then
                echo "ZOMBIE: $worker_id"
            fi
        fi
    ' _ {} \\;`,
    );
    assert.equal(loop.code, 0, loop.stderr);
    // The live worker is never reported (its shim's argv carries the id).
    assert.doesNotMatch(loop.stdout, new RegExp(`ZOMBIE: ${WORKER_ID}`));
    const dry = await sh(home, './scripts/cleanup-zombie-workers.sh --dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /0 zombie workers found/);
  });

  test('prevention: time limits, health check, configuration, dashboard, alerts', async () => {
    const types = await sh(home, 'cat $COMMIT_RELAY_HOME/coordination/config/worker-types.json | jq .');
    assert.equal(types.code, 0, types.stderr);
    const health = await sh(home, './scripts/health-check-pm-daemon.sh');
    assert.equal(health.code, 0, `${health.stdout}${health.stderr}`);
    const config = await sh(home, "jq '.configuration' $COMMIT_RELAY_HOME/coordination/pm-state.json");
    assert.equal(config.code, 0);
    const configuration = JSON.parse(config.stdout);
    assert.equal(configuration.loop_interval_seconds, 0.5);
    // The thresholds shown at the top say whose they are, and every type has its own.
    assert.equal(configuration.worker_types[configuration.thresholds_of_worker_type].checkin_timeout_seconds, configuration.checkin_timeout_seconds);
    for (const type of Object.values(configuration.worker_types)) assert.equal(typeof type.checkin_timeout_seconds, 'number');
    const dashboard = await sh(home, './scripts/dashboards/daemon-monitor.sh --status');
    assert.equal(dashboard.code, 0, dashboard.stderr);
    assert.match(dashboard.stdout, /ntation-001/);
    await waitFor(() => existsSync(join(home, 'coordination', 'health-alerts.json')), { what: 'health-alerts.json' });
    const alerts = await sh(home, `jq '.alerts[] | select(.type == "zombie_threshold")' $COMMIT_RELAY_HOME/coordination/health-alerts.json`);
    assert.equal(alerts.code, 0, alerts.stderr);
  });

  test('B. clean up a zombie by hand, then C. the mass cleanup and archive scripts', async () => {
    const id = 'worker-implementation-002';
    writePending(home, id);
    const pid = await waitFor(() => {
      const spec = readJson(specPath(home, 'active', id));
      return spec.status === 'running' && spec.execution.pid;
    }, { what: 'the second worker to run' });
    // Stop the daemon so the zombie stays one (with a daemon running, it restarts it by itself).
    await stopDaemon(daemon);
    process.kill(-pid, 'SIGKILL');
    await waitFor(() => !isAlive(pid), { what: 'the worker to die' });
    const manual = await sh(
      home,
      `WORKER_ID="${id}"
mv "$COMMIT_RELAY_HOME/coordination/worker-specs/active/\${WORKER_ID}.json" \\
   "$COMMIT_RELAY_HOME/coordination/worker-specs/failed/"
FAILED_SPEC="$COMMIT_RELAY_HOME/coordination/worker-specs/failed/\${WORKER_ID}.json"
jq '.status = "failed" | .error = "Zombie worker - no process found"' \\
    "$FAILED_SPEC" > "\${FAILED_SPEC}.tmp" && \\
    mv "\${FAILED_SPEC}.tmp" "$FAILED_SPEC"
jq "del(.monitored_workers[\\"$WORKER_ID\\"])" \\
    $COMMIT_RELAY_HOME/coordination/pm-state.json > \\
    $COMMIT_RELAY_HOME/coordination/pm-state.json.tmp && \\
    mv $COMMIT_RELAY_HOME/coordination/pm-state.json.tmp \\
       $COMMIT_RELAY_HOME/coordination/pm-state.json
./scripts/emit-event.sh --type "worker_zombie_cleaned" \\
    --worker-id "$WORKER_ID" \\
    --message "Zombie worker cleaned up manually"`,
    );
    assert.equal(manual.code, 0, manual.stderr);
    assert.equal(readJson(specPath(home, 'failed', id)).status, 'failed');
    assert.equal(readJson(join(home, 'coordination', 'pm-state.json')).monitored_workers[id], undefined);
    assert.equal(eventsOf(home, id, 'worker_zombie_cleaned').length, 1);
    const validate = await run(home, ['validate']);
    assert.equal(validate.code, 0, validate.stdout);

    const cleanup = await sh(home, './scripts/cleanup-zombie-workers.sh');
    assert.equal(cleanup.code, 0, cleanup.stderr);
    const archive = await sh(home, './scripts/archive-failed-workers.sh');
    assert.equal(archive.code, 0, archive.stderr);
    assert.ok(!existsSync(specPath(home, 'failed', id)), 'archived');
  });
});
