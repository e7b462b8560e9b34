// The README's demo, as `npm start` runs it: the project's own worker types, the daemon with --demo. Here the
// agent-like task: it hits its provider's usage limit once (Claude Code's message), is waited out until the
// reset without a restart counted, and resumes its session.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { events, eventsOf } from '../helpers/daemon.js';
import { ROOT, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile } from '../helpers/specs.js';

test('npm start demo: the demo-agent task is rate limited once, waits for the reset and resumes its session, restart_count 0', () =>
  withHome({}, async (t) => {
    mkdirSync(join(t.home, 'coordination', 'config'), { recursive: true });
    // The project's worker types as they are, but for the demo agent's check-in interval: 0.5 s, not 2 s. The agent
    // sleeps one interval before its usage-limit line and one per step of its resumed run (5 steps), so the 2 s
    // cost ~9 s of waiting that proves nothing more; the reset (8 s ahead, the agent's own) is waited out as before.
    const types = JSON.parse(readFileSync(join(ROOT, 'coordination', 'config', 'worker-types.json'), 'utf8'));
    types.worker_types['demo-agent'].checkin_interval_seconds = 0.5;
    writeFileSync(join(t.home, 'coordination', 'config', 'worker-types.json'), `${JSON.stringify(types, null, 2)}\n`);
    // The demo's commands name agents/demo-agent.js from the home (it checks in through this checkout's scripts/checkin.sh).
    mkdirSync(join(t.home, 'agents'), { recursive: true });
    symlinkSync(join(ROOT, 'agents', 'demo-agent.js'), join(t.home, 'agents', 'demo-agent.js'));
    await t.startDaemon({ args: ['--demo'] });
    const agentId = await waitFor(() => events(t.home).filter((e) => e.event === 'worker_registered').find((e) => e.data?.worker_type === 'demo-agent')?.worker_id, { what: 'the demo-agent worker' });
    const done = await waitFor(() => readSpecFile(t.home, 'completed', agentId), { what: 'the demo agent to complete', timeoutMs: 90_000, intervalMs: 200 });
    const limited = eventsOf(t.home, agentId, 'worker_rate_limited');
    assert.equal(limited.length, 1);
    assert.equal(limited[0]?.data?.source, 'output');
    const started = eventsOf(t.home, agentId, 'worker_started');
    assert.equal(started.length, 2);
    assert.equal(started[1]?.data?.resumed, true, JSON.stringify(started[1]?.data));
    assert.equal(started[1]?.data?.session_id, done.execution.session_id);
    assert.ok(Date.parse(started[1]?.timestamp ?? '') >= Date.parse(String(limited[0]?.data?.reset_at)) - 50, 'not before the reset');
    assert.equal(done.execution.restart_count, 0, 'a rate limit is not a crash');
  }));
