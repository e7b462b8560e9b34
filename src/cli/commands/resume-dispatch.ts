import type { Argv, CommandModule } from 'yargs';
import { loadQueueSettings, loadWorkerTypes } from '../../config/load.js';
import { pauseInForce, resumedData, type DispatchPause } from '../../contract/dispatch-pauses.js';
import { appendEvent } from '../../store/activity-log.js';
import { updateDispatchPauses } from '../../store/dispatch-pauses.js';
import { homeFromEnv } from '../context.js';

interface Args {
  type?: string;
}

export const resumeDispatchCommand: CommandModule<object, Args> = {
  command: 'resume-dispatch',
  describe: 'End the pauses of one type (--type), or all pauses: starts and restarts go on',
  builder: (y: Argv) => y.option('type', { type: 'string', describe: 'end only the pauses of this worker type (default: every pause)', requiresArg: true }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const paths = homeFromEnv(process.env, { create: false });
    const type = argv.type ?? null;
    if (type !== null) loadWorkerTypes(paths).get(type);
    // The fleet's queue first (redis backend, every type): Redis out of reach changes nothing.
    const settings = loadQueueSettings(paths, process.env);
    // bullmq and ioredis are loaded only with the redis backend.
    const fleet = type === null && settings.backend === 'redis' ? await (await import('../../fleet/queue-pause.js')).setFleetQueuePaused(settings, false) : false;
    const now = Date.now();
    const { removed, left } = await updateDispatchPauses(paths, (file) => {
      // With --type: that type's own pauses, and a provider's pause that covers it.
      const ends = (p: DispatchPause): boolean => type === null || p.type === type || (p.types?.includes(type) ?? false);
      const gone = file.pauses.filter(ends);
      file.pauses = file.pauses.filter((p) => !ends(p));
      return { value: { removed: gone, left: file.pauses }, write: gone.length > 0 };
    });
    for (const pause of removed.filter((p) => pauseInForce(p, now))) {
      appendEvent(paths, { event: 'dispatch_resumed', data: resumedData(pause, 'operator') });
    }
    if (fleet) process.stdout.write('the fleet\'s queue is resumed: every host takes tasks again\n');
    if (removed.length === 0) process.stdout.write(`nothing to resume: no pause${type === null ? '' : ` of type ${type}`}\n`);
    else process.stdout.write(`dispatch resumed (${type === null ? 'all' : `type ${type}`})\n`);
    const still = left.filter((p) => p.type === null && p.types === undefined && pauseInForce(p, now));
    if (type !== null && still.length > 0) process.stdout.write(`note: the pause of all types still holds type ${type} (resume-dispatch without --type ends it)\n`);
  },
};
