import type { QueueSettings } from '../config/load.js';
import { RelayError } from '../errors.js';
import { connectForCommand, displayUrl } from './redis.js';

/**
 * With the redis backend, a pause of every type is the fleet's: the shared BullMQ queue is paused, so no
 * host takes a new task (each host's running workers go on, and its local pauses still apply to its
 * restarts). A pause of one type stays with the host that has it. Does nothing with the file backend.
 * Throws a one-line error when Redis cannot be reached, before anything is changed.
 */
export async function setFleetQueuePaused(settings: QueueSettings, paused: boolean): Promise<boolean> {
  if (settings.backend !== 'redis') return false;
  const redis = await connectForCommand(settings);
  const { Queue } = await import('bullmq');
  const queue = new Queue(settings.name, { connection: redis });
  queue.on('error', () => undefined);
  try {
    if (paused) await queue.pause();
    else await queue.resume();
    return true;
  } catch (error) {
    throw new RelayError('REDIS_UNAVAILABLE', `could not ${paused ? 'pause' : 'resume'} queue ${settings.name} on redis at ${displayUrl(settings.redisUrl ?? '')}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await queue.close().catch(() => undefined);
    redis.disconnect();
  }
}
