// The `igrpo` command: one subcommand per file, loaded lazily so `igrpo verify` never loads tfjs.
// Each subcommand module exports `run(argv: string[]): Promise<number>` (the exit code).
const COMMANDS: Record<string, { describe: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  sample: { describe: 'sample completions from a policy', load: () => import('./sample.js') },
  verify: { describe: 'check answer equivalence (gold first, as Math-Verify)', load: () => import('./verify.js') },
  sft: { describe: 'supervised warm-up of the policy on a synthetic task', load: () => import('./sft.js') },
  train: { describe: 'GRPO or iGRPO training', load: () => import('./train.js') },
  eval: { describe: 'pass@1 of a policy on a held-out split', load: () => import('./eval.js') },
  merge: { describe: 'fold a LoRA adapter into its base model (one Hugging Face folder)', load: () => import('./merge.js') },
  pull: { describe: 'download a model from the Hugging Face hub into the local cache', load: () => import('./pull.js') },
  serve: { describe: 'OpenAI-compatible HTTP server for a policy (vLLM-style API)', load: () => import('./serve.js') },
  report: { describe: 'standard figures and a markdown summary for a run directory', load: () => import('./report.js') },
};

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.describe}`);
  return `usage: igrpo <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'igrpo <command> --help' for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`igrpo: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    const mod = await command.load();
    return await mod.run(rest);
  } catch (err) {
    // One readable line; the stack only when asked for.
    const message = err instanceof Error ? err.message : String(err);
    console.error(`igrpo ${name}: ${message}`);
    if (process.env.IGRPO_DEBUG) console.error(err);
    return 1;
  }
}
