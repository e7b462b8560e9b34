import type { Argv, CommandModule } from 'yargs';
import { claudeHookSettings } from '../../agents/claude-hooks.js';
import { RelayError } from '../../errors.js';
import { printJson } from '../context.js';

interface Args {
  agent: string;
}

const AGENTS = ['claude-code'] as const;

export const hooksCommand: CommandModule<object, Args> = {
  command: 'hooks <agent>',
  describe: 'Print the settings that wire an agent\'s hooks to check-ins (claude-code: for `claude --settings FILE` or .claude/settings.json)',
  builder: (y: Argv) => y.positional('agent', { type: 'string', describe: `one of ${AGENTS.join(', ')}`, demandOption: true }) as unknown as Argv<Args>,
  handler: (argv) => {
    if (!(AGENTS as readonly string[]).includes(argv.agent)) throw new RelayError('USAGE', `unknown agent "${argv.agent}": use one of ${AGENTS.join(', ')}`);
    printJson(claudeHookSettings());
  },
};
