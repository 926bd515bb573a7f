// Reading a text data file as the loaders need it: strict UTF-8 (a byte that is not UTF-8 is an error
// naming file, line and column, never a silent U+FFFD), the byte-order mark dropped (else record 1's
// first key or CSV's first header would carry it), and Latin-1 only when the caller asks for it.
import * as fs from 'node:fs';

export type TextEncoding = 'utf8' | 'latin1';

export class EncodingError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file}: line ${line}: ${detail}`);
    this.name = 'EncodingError';
  }
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/** The decoded text of `bytes` (what `file` is called in errors). */
export function decodeText(bytes: Uint8Array, file: string, encoding: TextEncoding = 'utf8'): string {
  const hasBom = bytes.length >= 3 && UTF8_BOM.every((b, i) => bytes[i] === b);
  if (encoding === 'latin1') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  try {
    // fatal: throw on a malformed sequence; ignoreBOM false (the default): a leading BOM is dropped
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw firstInvalid(hasBom ? bytes.subarray(3) : bytes, file);
  }
}

export function readText(file: string, encoding: TextEncoding = 'utf8'): string {
  return decodeText(fs.readFileSync(file), file, encoding);
}

/** Where the first malformed UTF-8 sequence is: line by line (only on the error path). */
function firstInvalid(bytes: Uint8Array, file: string): EncodingError {
  const strict = new TextDecoder('utf-8', { fatal: true });
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const lineBytes = bytes.subarray(start, end);
    try {
      strict.decode(lineBytes);
    } catch {
      const col = firstBadByte(lineBytes);
      const b = lineBytes[col];
      return new EncodingError(
        file,
        line,
        `not valid UTF-8 (byte 0x${b.toString(16).toUpperCase().padStart(2, '0')} at byte ${col + 1} of the line); ` +
          "re-save it as UTF-8, or pass encoding: 'latin1' if it is Latin-1",
      );
    }
    start = end + 1;
  }
  return new EncodingError(file, 1, 'not valid UTF-8');
}

/** Index of the first byte at which a prefix stops decoding (a line is short: quadratic is fine). */
function firstBadByte(line: Uint8Array): number {
  const strict = new TextDecoder('utf-8', { fatal: true });
  let i = 0;
  while (i < line.length) {
    const b = line[i];
    const len = b < 0x80 ? 1 : b >> 5 === 0x6 ? 2 : b >> 4 === 0xe ? 3 : b >> 3 === 0x1e ? 4 : 0;
    if (len === 0 || i + len > line.length) return i;
    try {
      strict.decode(line.subarray(i, i + len));
    } catch {
      return i;
    }
    i += len;
  }
  return 0;
}
