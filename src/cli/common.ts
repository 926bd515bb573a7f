// What every CLI command shares: the usage error, its exit code 2, and flag parsing.
import { ConfigError } from '../train/config.js';

export class UsageError extends Error {}

/** For a bad command line or config: print it (with the help for usage errors) and give exit code 2; else undefined. */
export function usageFailure(command: string, e: unknown, help: string): number | undefined {
  const isParse = (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  if (!(e instanceof UsageError || e instanceof ConfigError || isParse)) return undefined;
  console.error(`igrpo ${command}: ${(e as Error).message}${e instanceof ConfigError ? '' : '\n' + help}`);
  return 2;
}

export function intFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isInteger(x) || x < 0) throw new UsageError(`${flag} expects a non-negative integer, got '${v}'`);
  return x;
}
