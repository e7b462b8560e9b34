#!/usr/bin/env node
import type { CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { createTaskCommand } from './commands/create-task.js';
import { emitEventCommand } from './commands/emit-event.js';
import { validateCommand } from './commands/validate.js';
import { archiveFailedWorkersCommand } from './commands/archive-failed-workers.js';
import { daemonMonitorCommand } from './commands/daemon-monitor.js';
import { healthCheckCommand } from './commands/health-check.js';
import { pmDaemonCommand } from './commands/pm-daemon.js';
import { checkinCommand } from './commands/checkin.js';
import { failWorkerCommand } from './commands/fail-worker.js';
import { recoverTaskCommand } from './commands/recover-task.js';
import { restartWorkerCommand } from './commands/restart-worker.js';
import { startWorkerCommand } from './commands/start-worker.js';
import { stopWorkerCommand } from './commands/stop-worker.js';
import { cleanupZombieWorkersCommand } from './commands/cleanup-zombie-workers.js';
import { runCli } from './run.js';

const commands = [pmDaemonCommand, cleanupZombieWorkersCommand, createTaskCommand, emitEventCommand, validateCommand, healthCheckCommand, daemonMonitorCommand, archiveFailedWorkersCommand, startWorkerCommand, stopWorkerCommand, restartWorkerCommand, failWorkerCommand, recoverTaskCommand, checkinCommand] as unknown as CommandModule<object, never>[];

const code = await runCli(hideBin(process.argv), commands);
process.exitCode = code;
