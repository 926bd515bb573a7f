// A warning printed once per process (per distinct text): a config problem that every step would repeat.
const seen = new Set<string>();

/** Print `message` to stderr the first time it is seen; returns whether it was printed. */
export function warnOnce(message: string): boolean {
  if (seen.has(message)) return false;
  seen.add(message);
  process.emitWarning(message, { code: 'IGRPO' });
  return true;
}
