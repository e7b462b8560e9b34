import { Queue } from 'bullmq';
import type { QueueSettings } from '../config/load.js';
import { readFleet } from '../fleet/hosts.js';
import { connectForCommand } from '../fleet/redis.js';
import { printJson } from '../cli/context.js';
import { renderFleet } from './fleet-render.js';

/** How long `daemon-monitor --fleet` waits for Redis before saying it is unreachable. */
const CONNECT_TIMEOUT_MS = 3000;

/** daemon-monitor --fleet: one read of the fleet, printed; every connection closed, so the process exits at once. */
export async function showFleet(settings: QueueSettings, options: { json: boolean; color: boolean; capIds: boolean }): Promise<void> {
  const redis = await connectForCommand(settings, CONNECT_TIMEOUT_MS);
  // The command's own connection, shared: it fails fast, and Queue.close() leaves it to us.
  const queue = new Queue(settings.name, { connection: redis });
  queue.on('error', () => undefined);
  try {
    const view = await readFleet(redis, queue, settings.name, Date.now());
    if (options.json) printJson(view);
    else process.stdout.write(renderFleet(view, { color: options.color, capIds: options.capIds }));
  } finally {
    await queue.close().catch(() => undefined);
    redis.disconnect();
  }
}
