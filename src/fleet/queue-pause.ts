import type { QueueSettings } from '../config/load.js';
import { RelayError } from '../errors.js';
import { connectForCommand, displayUrl, fleetKeys } from './redis.js';

/**
 * With the redis backend, a pause of every type is the fleet's: the shared BullMQ queue is paused, so no
 * host takes a new task (each host's running workers go on, and its local pauses still apply to its
 * restarts). A pause of one type stays with the host that has it. With `until`, the queue is resumed at that
 * time by whichever daemon sees it first (FleetLeases). Does nothing with the file backend.
 * Throws a one-line error when Redis cannot be reached, before anything is changed.
 */
export async function setFleetQueuePaused(settings: QueueSettings, paused: boolean, until: string | null = null): Promise<boolean> {
  if (settings.backend !== 'redis') return false;
  const redis = await connectForCommand(settings);
  const { Queue } = await import('bullmq');
  const queue = new Queue(settings.name, { connection: redis });
  queue.on('error', () => undefined);
  const untilKey = fleetKeys(settings.name).pauseUntil;
  try {
    if (paused) {
      // A timed pause: its end is kept beside the queue, and the first daemon that sees it passed resumes the queue.
      if (until === null) await redis.del(untilKey);
      else await redis.set(untilKey, until);
      await queue.pause();
    } else {
      await redis.del(untilKey);
      await queue.resume();
    }
    return true;
  } catch (error) {
    throw new RelayError('REDIS_UNAVAILABLE', `could not ${paused ? 'pause' : 'resume'} queue ${settings.name} on redis at ${displayUrl(settings.redisUrl ?? '')}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await queue.close().catch(() => undefined);
    redis.disconnect();
  }
}
