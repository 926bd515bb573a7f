// igrpo pull ORG/NAME [--revision R] [--include GLOB]... [--cache-dir DIR] [--endpoint URL]
// Downloads a model's config, tokenizer, generation config and safetensors weights into the standard
// Hugging Face cache, where `--checkpoint ORG/NAME` / `--policy ORG/NAME` then find it offline.
import { parseArgs } from 'node:util';
import { parseHubId } from '../model/hub.js';
import { DEFAULT_INCLUDE, pullModel } from '../model/pull.js';

const HELP = `usage: igrpo pull ORG/NAME[@REVISION] [options]

Downloads ORG/NAME from the Hugging Face hub into the cache ($HF_HUB_CACHE, else $HF_HOME/hub, else
~/.cache/huggingface/hub), in the layout transformers and vLLM share (models--ORG--NAME/snapshots/<commit>).

options:
  --revision R       branch, tag or commit (default main)
  --include GLOB     files to fetch (repeatable; * crosses '/'); default:
                     ${DEFAULT_INCLUDE.join(' ')}
  --cache-dir DIR    another cache directory
  --endpoint URL     another hub (default $HF_ENDPOINT, else https://huggingface.co)

Gated or private models read the token from $HF_TOKEN.`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        revision: { type: 'string' },
        include: { type: 'string', multiple: true },
        'cache-dir': { type: 'string' },
        endpoint: { type: 'string' },
      },
    });
  } catch (e) {
    console.error(`igrpo pull: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`igrpo pull: expected one ORG/NAME, got ${positionals.length}\n\n${HELP}`);
    return 2;
  }
  const ref = parseHubId(positionals[0]);
  if (!ref) {
    console.error(`igrpo pull: '${positionals[0]}' is not a hub id ORG/NAME[@REVISION]`);
    return 2;
  }
  if (values.revision !== undefined && positionals[0].includes('@')) {
    console.error('igrpo pull: give the revision either as ORG/NAME@REVISION or with --revision, not both');
    return 2;
  }
  // @huggingface/hub reports each download with console.debug (stdout); stdout carries only the folder
  console.debug = (...args: unknown[]) => console.error(...args);
  try {
    const result = await pullModel({
      repo: ref.repo,
      revision: values.revision ?? ref.revision,
      include: values.include,
      cacheDir: values['cache-dir'],
      hubUrl: values.endpoint,
      log: (line) => console.error(line),
    });
    console.log(result.dir);
    return 0;
  } catch (e) {
    console.error(`igrpo pull: ${(e as Error).message}`);
    return 1;
  }
}
