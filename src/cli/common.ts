// What every CLI command shares: the usage error, its exit code 2, and flag parsing.
import { UnknownBackendError } from '../backend/select.js';
import { ConfigError } from '../train/config.js';
import { RunFolderError } from '../train/errors.js';

export class UsageError extends Error {}

/**
 * For a bad command line, config, backend name or run folder: print it (with the help for command-line
 * errors) and give exit code 2; else undefined.
 */
export function usageFailure(command: string, e: unknown, help: string): number | undefined {
  const isParse = (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  const oneLine = e instanceof ConfigError || e instanceof UnknownBackendError || e instanceof RunFolderError;
  if (!(e instanceof UsageError || isParse || oneLine)) return undefined;
  console.error(`igrpo ${command}: ${(e as Error).message}${oneLine ? '' : '\n' + help}`);
  return 2;
}

/** Run f; a usage-type failure (see usageFailure) becomes { code: 2 } after printing it. */
export async function orUsage<T>(command: string, help: string, f: () => Promise<T>): Promise<{ value: T } | { code: number }> {
  try {
    return { value: await f() };
  } catch (e) {
    const code = usageFailure(command, e, help);
    if (code === undefined) throw e;
    return { code };
  }
}

export function intFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isInteger(x) || x < 0) throw new UsageError(`${flag} expects a non-negative integer, got '${v}'`);
  return x;
}
