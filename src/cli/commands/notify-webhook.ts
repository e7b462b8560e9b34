import type { Argv, CommandModule } from 'yargs';
import { isHttpUrl } from '../../contract/daemon-config.js';
import { RelayError } from '../../errors.js';
import { postWebhook } from '../../ops/webhook.js';

interface Args {
  url?: string;
  timeout: number;
}

const MAX_INPUT_BYTES = 1024 * 1024;

/** stdin, whole, up to MAX_INPUT_BYTES. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_INPUT_BYTES) throw new RelayError('INVALID_INPUT', `stdin: more than ${MAX_INPUT_BYTES} bytes (expected one event or alert as JSON)`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export const notifyWebhookCommand: CommandModule<object, Args> = {
  command: 'notify-webhook',
  describe: 'POST the event or alert read on stdin (JSON) to a webhook as a Slack-compatible {"text": ...} message',
  builder: (y: Argv) =>
    y
      .option('url', { type: 'string', describe: 'the webhook URL, http:// or https:// (default: $COMMIT_RELAY_WEBHOOK_URL, which keeps it out of ps)', requiresArg: true })
      .option('timeout', { type: 'number', default: 10, describe: 'seconds each attempt may take', requiresArg: true })
      .check((argv) => {
        if (!(Number.isFinite(argv.timeout) && argv.timeout > 0 && argv.timeout <= 300)) throw new Error(`--timeout must be a number of seconds in (0, 300], got ${argv.timeout}`);
        return true;
      }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const fromEnv = process.env.COMMIT_RELAY_WEBHOOK_URL;
    const url = argv.url ?? (fromEnv === '' ? undefined : fromEnv);
    const source = argv.url !== undefined ? '--url' : 'COMMIT_RELAY_WEBHOOK_URL';
    if (url === undefined) throw new RelayError('USAGE', 'name the webhook with --url URL or COMMIT_RELAY_WEBHOOK_URL');
    // The URL is not echoed: it holds the webhook's secret.
    if (!isHttpUrl(url)) throw new RelayError('USAGE', `${source}: expected an http:// or https:// URL`);
    const text = await readStdin();
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch (error) {
      throw new RelayError('INVALID_INPUT', `stdin is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new RelayError('INVALID_INPUT', 'stdin: expected a JSON object (an event or an alert)');
    const outcome = await postWebhook(url, payload, Math.round(argv.timeout * 1000));
    if (!outcome.ok) throw new RelayError('IO_FAILED', `${outcome.error ?? 'the webhook post failed'} (${outcome.attempts} attempt${outcome.attempts > 1 ? 's' : ''})`);
  },
};
