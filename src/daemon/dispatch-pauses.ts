import { pauseInForce, pauseScope, resumedData, type DispatchPause } from '../contract/dispatch-pauses.js';
import { nowIso } from '../contract/time.js';
import type { Action } from '../core/actions.js';
import type { Clock } from '../core/clock.js';
import type { EventInput } from '../store/activity-log.js';
import { readDispatchPauses, updateDispatchPauses } from '../store/dispatch-pauses.js';
import type { HomePaths } from '../store/home.js';
import { lstatSignature } from './file-signature.js';

/**
 * The daemon's view of dispatch-pauses.json (the operator's pause-dispatch, and the daemon's own
 * rate-limit pauses): re-read whenever its signature changes (each pass looks); a version that does not
 * parse is reported once and the last good one stays in force. Pauses past their `until` are removed
 * by the daemon, under the file's lock, with `dispatch_resumed` (by: expiry).
 */
export class DaemonDispatchPauses {
  private pauses: readonly DispatchPause[] = [];
  private signature: string | null = null;

  constructor(
    private readonly paths: HomePaths,
    private readonly clock: Clock,
    private readonly reportError: (where: string, error: unknown) => void,
  ) {}

  /** The pauses as last read (in force or not). */
  refresh(): readonly DispatchPause[] {
    let sig: string | null;
    try {
      sig = lstatSignature(this.paths.dispatchPauses);
    } catch (error) {
      this.reportError('read dispatch-pauses.json', error);
      return this.pauses;
    }
    if (sig === this.signature) return this.pauses;
    this.signature = sig;
    try {
      this.pauses = sig === null ? [] : readDispatchPauses(this.paths).pauses;
    } catch (error) {
      this.reportError('read dispatch-pauses.json (the last good version stays in force)', error);
    }
    return this.pauses;
  }

  inForce(): DispatchPause[] {
    const wallNow = this.clock.wallNow();
    return this.pauses.filter((p) => pauseInForce(p, wallNow));
  }

  /** What the decision core needs: the paused types, and the providers a rate-limit pause covers. */
  forDecision(): { pausedTypes: { all: boolean; types: ReadonlySet<string> }; rateLimitPausedProviders: ReadonlySet<string> } {
    const live = this.inForce();
    const types = new Set<string>();
    let all = false;
    for (const p of live) {
      if (p.types !== undefined) for (const t of p.types) types.add(t);
      else if (p.type === null) all = true;
      else types.add(p.type);
    }
    const providers = new Set(live.filter((p) => p.by === 'rate_limit' && typeof p.provider === 'string').map((p) => p.provider as string));
    return { pausedTypes: { all, types }, rateLimitPausedProviders: providers };
  }

  /** The rate-limit pauses in force, one per provider. */
  rateLimitPauses(): { provider: string; until: string | null; workerIds: string[] }[] {
    return this.inForce()
      .filter((p) => p.by === 'rate_limit')
      .map((p) => ({ provider: p.provider ?? '?', until: p.until, workerIds: [...(p.worker_ids ?? [])] }));
  }

  /** The earliest end of a pause in force, on the daemon clock (the scheduler wakes then), or null. */
  nextEndAt(): number | null {
    const wallNow = this.clock.wallNow();
    const ends = this.inForce()
      .map((p) => (p.until === null ? null : Date.parse(p.until)))
      .filter((t): t is number => t !== null);
    if (ends.length === 0) return null;
    return this.clock.now() + (Math.min(...ends) - wallNow) + 5;
  }

  /** Whether a pause has ended that the next pass is still to remove (expire): its dispatch_resumed is yet to be logged. */
  endedUnlogged(): boolean {
    const wallNow = this.clock.wallNow();
    return this.pauses.some((p) => !pauseInForce(p, wallNow));
  }

  /** Removes the pauses whose `until` has passed; returns their dispatch_resumed events. */
  async expire(): Promise<EventInput[]> {
    const wallNow = this.clock.wallNow();
    if (!this.endedUnlogged()) return [];
    const ended = await updateDispatchPauses(this.paths, (file) => {
      const gone = file.pauses.filter((p) => !pauseInForce(p, wallNow));
      file.pauses = file.pauses.filter((p) => pauseInForce(p, wallNow));
      return { value: gone, write: gone.length > 0 };
    });
    this.refresh();
    return ended.map((p) => ({ event: 'dispatch_resumed', data: resumedData(p, 'expiry') }));
  }

  /** A provider outage (core/decide.ts): its types pause until the latest reset; once per outage. */
  async pauseProvider(action: Extract<Action, { kind: 'pause_provider' }>): Promise<EventInput[]> {
    const wallNow = this.clock.wallNow();
    const until = nowIso(wallNow + Math.max(0, action.untilAt - this.clock.now()));
    const pause: DispatchPause = {
      type: null,
      types: [...action.types],
      provider: action.provider,
      reason: `${action.workerIds.length} workers of provider ${action.provider} rate limited within 5 minutes`,
      until,
      by: 'rate_limit',
      at: nowIso(wallNow),
      worker_ids: [...action.workerIds],
    };
    const added = await updateDispatchPauses(this.paths, (file) => {
      if (file.pauses.some((p) => p.by === 'rate_limit' && p.provider === action.provider && pauseInForce(p, wallNow))) return { value: false, write: false };
      file.pauses = [...file.pauses.filter((p) => !(p.by === 'rate_limit' && p.provider === action.provider)), pause];
      return { value: true, write: true };
    });
    this.refresh();
    if (!added) return [];
    return [{ event: 'dispatch_paused', data: { scope: pauseScope(pause), type: null, types: pause.types, provider: action.provider, reason: pause.reason, until, by: 'rate_limit', worker_ids: pause.worker_ids } }];
  }
}
