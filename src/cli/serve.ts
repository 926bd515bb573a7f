// `igrpo serve`: an OpenAI-compatible server for a policy checkpoint (src/serve/). Prints one line
// "igrpo serve: listening on http://HOST:PORT (model NAME)" on stdout once it accepts connections (with
// --port 0 that is the port the system chose), and stops cleanly on SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { describeBackend, selectBackend } from '../backend/select.js';
import { loadPolicy } from '../model/load.js';
import { buildServer } from '../serve/app.js';
import { resolvePolicyDir } from '../model/load.js';
import { intFlag, UsageError, usageFailure } from './common.js';

const HELP = `usage: igrpo serve --checkpoint DIR [options]

  --checkpoint DIR          policy folder, or 'embedded' for the shipped data/policy (required)
  --served-model-name NAME  the name requests use as "model" (default: DIR as given)
  --host H                  address to bind (default 127.0.0.1; 0.0.0.0 exposes the server to your network)
  --port P                  (default 8000; 0 = a free port, printed)
  --api-key KEY             require "Authorization: Bearer KEY" on every endpoint but /health
                            (default $IGRPO_API_KEY; an environment variable keeps the key out of 'ps')
  --enable-lora-updates     allow /v1/load_lora_adapter and /v1/unload_lora_adapter
  --lora-dir D              a directory adapters may be loaded from (repeatable; needed with the above)
  --max-n N                 completions per prompt at most (default 64)
  --max-tokens N            max_tokens at most (default 4096; the model's context bounds it too)
  --max-prompt-tokens N     prompt tokens at most (default 8192)
  --max-prompts N           prompts per completions request at most (default 64)
  --max-body-bytes N        request body at most (default 1048576)
  --batch-window-ms MS      a batch closes once no request arrived for this long (default 5)
  --batch-max-wait-ms MS    ... or this long after its first request (default 50)
  --max-batch-rows N        completion rows per sampling call at most (default 512)
  --idle-timeout-ms MS      close a connection idle this long (default 30000)
  --request-timeout-ms MS   a request must arrive within this (default 60000)
  --backend B               (default $IGRPO_BACKEND or auto)

Requests beyond a limit get a 400 naming it. Chat requests are rendered with the tokenizer's chat template
when it has one; the character GPT has none, and its messages are joined with newlines (plus a final one).`;

export async function run(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        checkpoint: { type: 'string' }, 'served-model-name': { type: 'string' }, host: { type: 'string' }, port: { type: 'string' },
        'api-key': { type: 'string' }, 'enable-lora-updates': { type: 'boolean' }, 'lora-dir': { type: 'string', multiple: true },
        'max-n': { type: 'string' }, 'max-tokens': { type: 'string' }, 'max-prompt-tokens': { type: 'string' }, 'max-prompts': { type: 'string' },
        'max-body-bytes': { type: 'string' }, 'batch-window-ms': { type: 'string' }, 'batch-max-wait-ms': { type: 'string' }, 'max-batch-rows': { type: 'string' },
        'idle-timeout-ms': { type: 'string' }, 'request-timeout-ms': { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.checkpoint) throw new UsageError('--checkpoint is required');
    if ((values['lora-dir'] as string[] | undefined)?.length && !values['enable-lora-updates']) throw new UsageError('--lora-dir needs --enable-lora-updates');
  } catch (e) {
    const code = usageFailure('serve', e, HELP);
    if (code === undefined) throw e;
    return code;
  }
  const flag = (name: string) => intFlag(values[name] as string | undefined, `--${name}`);
  const checkpoint = values.checkpoint as string;
  const backend = await selectBackend((values.backend as string | undefined) ?? process.env.IGRPO_BACKEND ?? 'auto');
  console.error(describeBackend(backend));
  const policy = loadPolicy(resolvePolicyDir(checkpoint));
  const server = buildServer(
    policy,
    {
      host: (values.host as string | undefined) ?? '127.0.0.1',
      port: flag('port') ?? 8000,
      modelName: (values['served-model-name'] as string | undefined) ?? checkpoint,
      apiKey: (values['api-key'] as string | undefined) ?? (process.env.IGRPO_API_KEY || undefined),
      limits: { maxN: flag('max-n'), maxTokens: flag('max-tokens'), maxPromptTokens: flag('max-prompt-tokens'), maxPrompts: flag('max-prompts'), bodyBytes: flag('max-body-bytes') },
      batch: { windowMs: flag('batch-window-ms'), maxWaitMs: flag('batch-max-wait-ms'), maxRows: flag('max-batch-rows') },
      timeouts: { idleMs: flag('idle-timeout-ms'), requestMs: flag('request-timeout-ms') },
      lora: { enabled: !!values['enable-lora-updates'], dirs: (values['lora-dir'] as string[] | undefined) ?? [] },
    },
    { checkpoint: resolvePolicyDir(checkpoint) },
  );
  const url = await server.listen();
  console.log(`igrpo serve: listening on ${url} (model ${server.options.modelName})`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  policy.dispose();
  return 0;
}
