// A warning printed once per process (per distinct text): a config problem that every step would repeat.
// Node: process.emitWarning (stderr); the browser page: console.warn.
const seen = new Set<string>();

/** Print `message` to stderr the first time its key (default: the message) is seen; returns whether it was printed. */
export function warnOnce(message: string, key = message): boolean {
  if (seen.has(key)) return false;
  seen.add(key);
  if (typeof process !== 'undefined' && typeof process.emitWarning === 'function') process.emitWarning(message, { code: 'IGRPO' });
  else console.warn(message); // a browser (the page in site/)
  return true;
}
