import type { Argv, CommandModule } from 'yargs';
import { loadQueueSettings, loadWorkerTypes } from '../../config/load.js';
import { pauseScope, type DispatchPause } from '../../contract/dispatch-pauses.js';
import { isoTimestamp, nowIso } from '../../contract/time.js';
import { RelayError } from '../../errors.js';
import { appendEvent } from '../../store/activity-log.js';
import { updateDispatchPauses } from '../../store/dispatch-pauses.js';
import { ensureLayout } from '../../store/home.js';
import { homeFromEnv } from '../context.js';

interface Args {
  type?: string;
  until?: string;
  reason?: string;
}

/** --until as an ISO time with a zone, in the future; undefined when not given. */
function parseUntil(raw: string | undefined, now: number): string | undefined {
  if (raw === undefined) return undefined;
  if (!isoTimestamp.safeParse(raw).success) throw new RelayError('USAGE', `--until must be an ISO-8601 time with a zone (e.g. 2026-11-30T18:00:00Z), got "${raw}"`);
  const at = Date.parse(raw);
  if (at <= now) throw new RelayError('USAGE', `--until ${raw} is in the past`);
  return new Date(at).toISOString();
}

export const pauseDispatchCommand: CommandModule<object, Args> = {
  command: 'pause-dispatch',
  describe: 'Pause starts and restarts (of one type, or all): running workers go on and finish',
  builder: (y: Argv) =>
    y
      .option('type', { type: 'string', describe: 'only this worker type (default: all types)', requiresArg: true })
      .option('until', { type: 'string', describe: 'an ISO-8601 time at which the pause ends by itself', requiresArg: true })
      .option('reason', { type: 'string', describe: 'why, for the events and the dashboard', requiresArg: true }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const now = Date.now();
    const until = parseUntil(argv.until, now) ?? null;
    const reason = argv.reason === undefined ? null : argv.reason.trim() === '' ? null : argv.reason.trim();
    // Check everything before the home is touched: bad input changes nothing.
    const paths = homeFromEnv(process.env, { create: false });
    const type = argv.type ?? null;
    if (type !== null) loadWorkerTypes(paths).get(type);
    const settings = loadQueueSettings(paths, process.env);
    // The fleet's queue first: Redis out of reach changes nothing.
    // bullmq and ioredis are loaded only with the redis backend.
    const fleet = type === null && settings.backend === 'redis' ? await (await import('../../fleet/queue-pause.js')).setFleetQueuePaused(settings, true, until) : false;
    ensureLayout(paths);
    const pause: DispatchPause = { type, reason, until, by: 'operator', at: nowIso(now) };
    const replaced = await updateDispatchPauses(paths, (file) => {
      const same = (p: DispatchPause): boolean => p.by === 'operator' && p.type === type;
      const had = file.pauses.some(same);
      file.pauses = [...file.pauses.filter((p) => !same(p)), pause];
      return { value: had, write: true };
    });
    appendEvent(paths, { event: 'dispatch_paused', data: { scope: pauseScope(pause), type, reason, until, by: 'operator', replaced_earlier_pause: replaced, ...(fleet ? { fleet_queue: settings.name } : {}) } });
    process.stdout.write(`dispatch paused (${pauseScope(pause)})${until === null ? ' until resume-dispatch' : ` until ${until}`}: running workers go on${fleet ? `; queue ${settings.name} paused for every host` : ''}\n`);
  },
};
