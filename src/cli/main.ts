#!/usr/bin/env node
import type { CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { createTaskCommand } from './commands/create-task.js';
import { emitEventCommand } from './commands/emit-event.js';
import { validateCommand } from './commands/validate.js';
import { runCli } from './run.js';

const commands = [createTaskCommand, emitEventCommand, validateCommand] as unknown as CommandModule<object, never>[];

const code = await runCli(hideBin(process.argv), commands);
process.exitCode = code;
