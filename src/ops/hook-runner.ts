import { execa } from 'execa';
import type { Alert } from '../contract/alerts.js';
import { describeError } from '../errors.js';

/** How a hook run ended; the daemon logs it when `ok` is false. */
export interface HookOutcome {
  readonly ok: boolean;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** Why it failed, in words (absent when ok). */
  readonly error?: string;
  /** The end of what the hook wrote on stderr, for the log. */
  readonly stderrTail?: string;
}

/** One bounded run of an operator's hook: argv (never a shell), what goes on its stdin, its extra environment. */
export interface HookRun {
  /** In messages: "the alert hook", "the event hook". */
  readonly what: string;
  readonly argv: readonly string[];
  readonly input: string;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly cwd: string;
}

const STDERR_TAIL = 2000;
const KILL_GRACE_MS = 500;

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Runs an operator's hook (an argv list, never a shell) with `input` on stdin.
 * Bounded: after timeoutMs its whole process group gets SIGTERM, then SIGKILL after a short grace,
 * so a hook that hangs or leaves children behind costs at most timeoutMs + 0.5 s. Never throws.
 */
export async function runBoundedHook(hook: HookRun): Promise<HookOutcome> {
  const { what, argv, timeoutMs } = hook;
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const [file, ...args] = argv;
  if (file === undefined || file === '') {
    return { ok: false, exitCode: null, signal: null, timedOut: false, durationMs: 0, error: `${what} is an empty argv list` };
  }
  const timers: NodeJS.Timeout[] = [];
  let timedOut = false;
  try {
    const subprocess = execa(file, args, {
      cwd: hook.cwd,
      input: hook.input,
      stdout: 'ignore',
      stderr: 'pipe',
      reject: false,
      // Its own process group, so the timeout reaches anything the hook started too.
      detached: true,
      maxBuffer: 64 * 1024,
      env: hook.env,
    });
    timers.push(
      setTimeout(() => {
        timedOut = true;
        killGroup(subprocess.pid, 'SIGTERM');
        timers.push(setTimeout(() => killGroup(subprocess.pid, 'SIGKILL'), KILL_GRACE_MS));
      }, timeoutMs),
    );
    const result = await subprocess;
    const stderr = typeof result.stderr === 'string' ? result.stderr.trim() : '';
    const stderrTail = stderr === '' ? undefined : stderr.slice(-STDERR_TAIL);
    const exitCode = typeof result.exitCode === 'number' ? result.exitCode : null;
    const signal = result.signal ?? null;
    if (timedOut) {
      return { ok: false, exitCode, signal, timedOut, durationMs: elapsed(), error: `${what} did not finish within ${timeoutMs} ms and was killed`, ...(stderrTail ? { stderrTail } : {}) };
    }
    if (result.failed || exitCode !== 0) {
      const why = exitCode !== null && exitCode !== 0 ? `exited with code ${exitCode}` : signal !== null ? `was killed by ${signal}` : result.shortMessage;
      return { ok: false, exitCode, signal, timedOut, durationMs: elapsed(), error: `${what} ${why}`, ...(stderrTail ? { stderrTail } : {}) };
    }
    return { ok: true, exitCode, signal, timedOut, durationMs: elapsed(), ...(stderrTail ? { stderrTail } : {}) };
  } catch (error) {
    return { ok: false, exitCode: null, signal: null, timedOut: false, durationMs: elapsed(), error: `${what} could not run: ${describeError(error)}` };
  } finally {
    // A hook that timed out may leave a child that ignores SIGTERM: its group keeps the SIGKILL promised at the end of the grace (unref'd).
    for (const timer of timers) {
      if (timedOut && timer !== timers[0]) timer.unref();
      else clearTimeout(timer);
    }
  }
}

/** The alert hook: the alert as JSON on stdin, its id, type and status in the environment. */
export function runAlertHook(argv: readonly string[], alert: Alert, timeoutMs: number, cwd: string): Promise<HookOutcome> {
  return runBoundedHook({
    what: 'the alert hook',
    argv,
    input: `${JSON.stringify(alert)}\n`,
    env: { COMMIT_RELAY_ALERT_ID: alert.id, COMMIT_RELAY_ALERT_TYPE: alert.type, COMMIT_RELAY_ALERT_STATUS: alert.status },
    timeoutMs,
    cwd,
  });
}
