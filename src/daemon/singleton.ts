import { rmSync } from 'node:fs';
import { nowIso } from '../contract/time.js';
import { RelayError } from '../errors.js';
import { currentHost, readIdentity } from '../process/identity.js';
import { daemonLiveness, readDaemonPid, writeDaemonPid, type DaemonPid } from '../store/daemon-pid.js';
import type { HomePaths } from '../store/home.js';
import { DAEMON_LOCK, withLock } from '../store/lock.js';

/**
 * One daemon per home. Under the pm-daemon lock: if the pid file names a live process with the recorded
 * identity, refuse; otherwise (no file, or a daemon killed with SIGKILL) take over and write our own.
 */
export async function claimDaemonSlot(paths: HomePaths, loopIntervalSeconds: number): Promise<{ record: DaemonPid; tookOverFrom: DaemonPid | undefined }> {
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

/** Removes the pid file if it is still ours. */
export async function releaseDaemonSlot(paths: HomePaths): Promise<void> {
  await withLock(paths, DAEMON_LOCK, () => {
    const record = readDaemonPid(paths);
    if (record !== undefined && record.pid === process.pid) rmSync(paths.daemonPidFile, { force: true });
  }).catch(() => undefined);
}
