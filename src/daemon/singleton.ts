import { rmSync } from 'node:fs';
import { nowIso } from '../contract/time.js';
import { RelayError } from '../errors.js';
import { currentHost, readIdentity } from '../process/identity.js';
import { daemonLiveness, readDaemonPid, writeDaemonPid, type DaemonPid } from '../store/daemon-pid.js';
import type { EventInput } from '../store/activity-log.js';
import type { HomePaths } from '../store/home.js';
import { DAEMON_LOCK, withLock } from '../store/lock.js';
import { HomeAnchor } from './home-anchor.js';

export interface DaemonClaim {
  readonly record: DaemonPid;
  readonly tookOverFrom: DaemonPid | undefined;
  /** Held until release: the home's anchor (home-anchor.ts). */
  readonly anchor: HomeAnchor;
}

/**
 * One daemon per home. First the home's anchor (an abstract socket the kernel frees when its holder
 * ends): held by another process, refuse, whatever the files say. Then, under the pm-daemon lock: if the
 * pid file names a live process with the recorded identity, refuse; otherwise (no file, or a daemon killed
 * with SIGKILL) take over and write our own.
 */
export async function claimDaemonSlot(paths: HomePaths, loopIntervalSeconds: number): Promise<DaemonClaim> {
  const anchor = await HomeAnchor.take(paths.home);
  if (anchor === 'held') {
    const live = daemonLiveness(paths);
    const who = live.process === 'alive' && live.record !== undefined ? `pid ${live.record.pid}, started ${live.record.started_at}` : 'its pid file is missing or stale; it restores it at its next pass';
    throw new RelayError('DAEMON_RUNNING', `a pm-daemon already runs for ${paths.home} (${who})`, { details: { pid: live.record?.pid ?? null } });
  }
  try {
    return { ...(await claimPidFile(paths, loopIntervalSeconds)), anchor };
  } catch (error) {
    await anchor.release();
    throw error;
  }
}

async function claimPidFile(paths: HomePaths, loopIntervalSeconds: number): Promise<{ record: DaemonPid; tookOverFrom: DaemonPid | undefined }> {
  return withLock(paths, DAEMON_LOCK, async () => {
    const live = daemonLiveness(paths);
    if (live.process === 'alive' && live.record !== undefined && live.record.pid !== process.pid) {
      throw new RelayError('DAEMON_RUNNING', `a pm-daemon already runs for ${paths.home}: pid ${live.record.pid}, started ${live.record.started_at}`, {
        details: { pid: live.record.pid },
      });
    }
    const self = readIdentity(process.pid);
    const record: DaemonPid = {
      pid: process.pid,
      process_start_ticks: self?.startTicks ?? 0,
      boot_id: self?.bootId ?? 'unknown',
      host: currentHost(),
      started_at: nowIso(),
      home: paths.home,
      loop_interval_seconds: loopIntervalSeconds,
    };
    await writeDaemonPid(paths, record);
    return { record, tookOverFrom: live.process === 'absent' ? undefined : live.record };
  });
}

/**
 * The running daemon's claim, checked now and then: a pid file removed or replaced (coordination/ removed
 * and restored while the daemon ran) is written again, so people and the health check see the daemon that
 * holds the home. Returns whether it had to be restored.
 */
export async function restoreClaimIfLost(paths: HomePaths, record: DaemonPid): Promise<boolean> {
  const current = readDaemonPid(paths);
  if (current !== undefined && current.pid === record.pid && current.process_start_ticks === record.process_start_ticks) return false;
  return withLock(paths, DAEMON_LOCK, async () => {
    const again = readDaemonPid(paths);
    if (again !== undefined && again.pid === record.pid && again.process_start_ticks === record.process_start_ticks) return false;
    await writeDaemonPid(paths, record);
    return true;
  });
}

/** Removes the pid file if it is still ours, and lets go of the home. */
export async function releaseDaemonSlot(paths: HomePaths, claim: DaemonClaim | undefined): Promise<void> {
  await withLock(paths, DAEMON_LOCK, () => {
    const record = readDaemonPid(paths);
    if (record !== undefined && record.pid === process.pid) rmSync(paths.daemonPidFile, { force: true });
  }).catch(() => undefined);
  await claim?.anchor.release();
}

/** What the daemon logs when it had to restore its pid file. */
export function claimRestoredEvent(paths: HomePaths): EventInput {
  const message = 'the pid file was removed or replaced while this daemon ran: restored';
  return { event: 'daemon_warning', data: { warning: 'claim_restored', path: paths.daemonPidFile, message } };
}
