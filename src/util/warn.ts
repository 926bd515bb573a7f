// A warning printed once per process (per distinct text): a config problem that every step would repeat.
const seen = new Set<string>();

/** Print `message` to stderr the first time its key (default: the message) is seen; returns whether it was printed. */
export function warnOnce(message: string, key = message): boolean {
  if (seen.has(key)) return false;
  seen.add(key);
  process.emitWarning(message, { code: 'IGRPO' });
  return true;
}
