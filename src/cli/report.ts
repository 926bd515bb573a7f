// igrpo report RUN_DIR [RUN_DIR…] [--out DIR] [--format png,svg] [--width W] [--height H] [--no-images]
// Standard figures and a markdown summary for training runs (DIR/metrics.jsonl, DIR/rollouts.jsonl).
import { ProgressBar } from '../analysis/progress.js';
import { writeReport, type ReportOptions } from '../analysis/report.js';
import type { ImageFormat } from '../analysis/export.js';

const HELP = `usage: igrpo report RUN_DIR [RUN_DIR...] [options]

Writes the standard figures (PNG and SVG, plus the plotly JSON) and summary.md for the runs in RUN_DIR
(metrics.jsonl, optional rollouts.jsonl; subfolders two levels down are searched, so one folder per
algorithm and seed reports as one GRPO-vs-iGRPO comparison).

options:
  --out DIR          output folder (default RUN_DIR/report)
  --format LIST      png,svg (default both)
  --width N          image width in pixels (default 800)
  --height N         image height in pixels (default 500)
  --no-images        summary and figure JSON only (no Chromium needed)`;

export async function run(argv: string[]): Promise<number> {
  const dirs: string[] = [];
  const opts: ReportOptions = { progress: (label, total) => new ProgressBar({ total, label }) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const positive = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${a} must be a positive integer (got '${v}')`);
      return n;
    };
    if (a === '--help' || a === '-h') {
      console.log(HELP);
      return 0;
    } else if (a === '--out') opts.outDir = value();
    else if (a === '--format') {
      const formats = value().split(',');
      const bad = formats.find((f) => f !== 'png' && f !== 'svg');
      if (bad) throw new Error(`--format: unknown format '${bad}' (png, svg)`);
      opts.formats = formats as ImageFormat[];
    } else if (a === '--width') opts.width = positive(value());
    else if (a === '--height') opts.height = positive(value());
    else if (a === '--no-images') opts.noImages = true;
    else if (a.startsWith('-')) throw new Error(`unknown option '${a}'\n${HELP}`);
    else dirs.push(a);
  }
  if (dirs.length === 0) {
    console.error(HELP);
    return 2;
  }
  const files = await writeReport(dirs, opts);
  const summary = files[files.length - 1];
  console.log(`wrote ${files.length} files; summary: ${summary}`);
  return 0;
}
