// `igrpo verify`: answer equivalence from the shell, one pair or a JSONL stream.
//   igrpo verify --gold '\frac12' --pred 0.5 [--explain]     prints true/false; exit 0 if equivalent, 1 if not
//   igrpo verify --jsonl < pairs.jsonl                       {"gold","pred"} per line → {"equivalent","reason"}
import * as readline from 'node:readline';
import { explain, type VerifyOptions } from '../verify/equivalence.js';
import { extractAnswer } from '../verify/extract.js';

const HELP = `usage: igrpo verify --gold A --pred B [--explain] [--extract [--gold-verbatim]] [--no-cas] [--tolerance T]
       igrpo verify --jsonl [--extract [--gold-verbatim]] [--no-cas] [--tolerance T]  < pairs.jsonl

Checks whether the predicted answer equals the gold answer (gold first, as in Math-Verify).
  --explain      also print the rule that decided, or why the comparison failed
  --extract      take the final answer out of both the gold and the prediction first (\\boxed, <answer>,
                 "the answer is", …), as Math-Verify parses both; a gold with no answer found stays as given
  --gold-verbatim  with --extract: compare the gold as given (extract from the prediction only)
  --no-cas       compare without the computer-algebra system (numbers, strings and structure only)
  --tolerance T  relative tolerance for numbers (default 1e-6)
  --jsonl        read {"gold": …, "pred": …} per line on stdin; write {"equivalent", "reason"} per line,
                 in order; blank lines are skipped; a malformed line gets {"error": …} naming its line, and
                 the exit code is 1
Exit code (single pair): 0 equivalent, 1 not equivalent, 2 usage error.`;

interface Args {
  gold?: string;
  pred?: string;
  explain: boolean;
  extract: boolean;
  goldVerbatim: boolean;
  jsonl: boolean;
  opts: VerifyOptions;
}

function parseArgs(argv: string[]): Args | string {
  const a: Args = { explain: false, extract: false, goldVerbatim: false, jsonl: false, opts: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    try {
      if (flag === '--gold') a.gold = value();
      else if (flag === '--pred') a.pred = value();
      else if (flag === '--explain') a.explain = true;
      else if (flag === '--extract') a.extract = true;
      else if (flag === '--gold-verbatim') a.goldVerbatim = true;
      else if (flag === '--jsonl') a.jsonl = true;
      else if (flag === '--no-cas') a.opts.symbolic = false;
      else if (flag === '--tolerance') {
        const t = Number(value());
        if (!(t >= 0)) return '--tolerance needs a non-negative number';
        a.opts.tolerance = t;
      } else return `unknown option '${flag}'`;
    } catch (e) {
      return (e as Error).message;
    }
  }
  if (!a.jsonl && (a.gold === undefined || a.pred === undefined)) return 'give --gold and --pred, or --jsonl';
  if (a.jsonl && (a.gold !== undefined || a.pred !== undefined)) return '--jsonl reads pairs from stdin; drop --gold/--pred';
  if (a.goldVerbatim && !a.extract) return '--gold-verbatim only makes sense with --extract';
  return a;
}

/** How the two sides are read: extract the answer from the prediction, and (unless goldVerbatim) from the gold. */
export interface ExtractMode {
  extract: boolean;
  goldVerbatim?: boolean;
}

/** The pair to compare, or a verdict already reached (a box longer than the extraction limit). */
function comparePair(gold: string, pred: string, mode: ExtractMode, opts: VerifyOptions): { equivalent: boolean; reason: string } {
  if (!mode.extract) return explain(gold, pred, opts);
  const p = extractAnswer(pred);
  if (p?.note) return { equivalent: false, reason: `prediction: ${p.note}` };
  // the gold goes through the same extraction (a whole reference solution → its boxed answer); a gold
  // in which no answer is found is compared as given
  const g = mode.goldVerbatim ? undefined : extractAnswer(gold);
  if (g?.note) return { equivalent: false, reason: `gold: ${g.note}` };
  return explain(g?.answer || gold, p?.answer ?? '', opts);
}

/** One output line for one input line (exported for tests). */
export function answerLine(line: string, lineNo: number, extract: boolean | ExtractMode, opts: VerifyOptions): { out: string; ok: boolean } {
  const mode: ExtractMode = typeof extract === 'boolean' ? { extract } : extract;
  const error = (msg: string) => ({ out: JSON.stringify({ error: `line ${lineNo}: ${msg}` }), ok: false });
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch (e) {
    return error(`invalid JSON (${(e as Error).message})`);
  }
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return error('expected a JSON object {"gold", "pred"}');
  const { gold, pred } = rec as Record<string, unknown>;
  const asText = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : v);
  const g = asText(gold);
  const p = asText(pred);
  if (typeof g !== 'string') return error(`field 'gold' must be a string or number`);
  if (typeof p !== 'string') return error(`field 'pred' must be a string or number`);
  const r = comparePair(g, p, mode, opts);
  return { out: JSON.stringify({ equivalent: r.equivalent, reason: r.reason }), ok: true };
}

async function runJsonl(a: Args): Promise<number> {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let lineNo = 0;
  let failed = false;
  for await (const line of rl) {
    lineNo++;
    if (line.trim() === '') continue; // a blank line (a trailing one, a separator) is no pair: skip it
    const { out, ok } = answerLine(line, lineNo, a, a.opts);
    if (!ok) failed = true;
    process.stdout.write(out + '\n');
  }
  return failed ? 1 : 0;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const a = parseArgs(argv);
  if (typeof a === 'string') {
    console.error(`igrpo verify: ${a}\n${HELP}`);
    return 2;
  }
  if (a.jsonl) return runJsonl(a);
  const r = comparePair(a.gold!, a.pred!, a, a.opts);
  console.log(a.explain ? `${r.equivalent}\t${r.reason}` : String(r.equivalent));
  return r.equivalent ? 0 : 1;
}
