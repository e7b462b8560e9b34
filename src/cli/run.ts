import yargs, { type CommandModule } from 'yargs';
import { describeError, exitCodeFor, RelayError } from '../errors.js';
import { relayVersion } from '../version.js';

/**
 * Runs a yargs program over argv: strict, --help and --version everywhere, and every failure as one line on stderr
 * with a non-zero exit (2 for usage, see exitCodeFor for the rest).
 */
export async function runCli(argv: readonly string[], commands: readonly CommandModule<object, never>[], scriptName = 'commit-relay'): Promise<number> {
  let failure: unknown;
  const program = yargs([...argv])
    .scriptName(scriptName)
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(relayVersion())
    .check(rejectRepeatedOptions, true)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((message, error) => {
      // yargs runs the handler anyway unless fail throws.
      throw error ?? new RelayError('USAGE', message ?? 'invalid usage');
    });
  for (const command of commands) program.command(command as CommandModule);
  try {
    await program.parseAsync();
  } catch (error) {
    failure = error;
  }
  if (failure !== undefined) {
    process.stderr.write(`${scriptName}: ${oneLine(describeError(failure))}\n`);
    return exitCodeFor(failure instanceof RelayError || !(failure instanceof Error) || failure.name !== 'YError' ? failure : new RelayError('USAGE', failure.message));
  }
  return process.exitCode === undefined ? 0 : Number(process.exitCode);
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();

/**
 * yargs turns a repeated option (`--description a --description b`) into an array, which a handler that
 * expects a string would trip over; only options declared as arrays may repeat.
 */
function rejectRepeatedOptions(argv: Record<string, unknown>, options: unknown): true {
  const arrays = new Set((options as { array?: unknown }).array instanceof Array ? ((options as { array: unknown[] }).array as string[]) : []);
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || key === '$0' || arrays.has(key) || !Array.isArray(value)) continue;
    const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new RelayError('USAGE', `--${flag} was given more than once`);
  }
  return true;
}
