// igrpo report RUN_DIR [RUN_DIR…] [--out DIR] [--format png,svg] [--width W] [--height H] [--scale S] [--no-images]
// Standard figures and a markdown summary for training runs (DIR/metrics.jsonl, DIR/rollouts.jsonl).
import { parseArgs } from 'node:util';
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
  --scale S          PNG pixel density: 2 gives a 2x-resolution image of the same layout (default 1)
  --no-images        summary and figure JSON only (no Chromium needed)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals: dirs } = parseOrExplain(argv);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const positive = (flag: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} must be a positive integer (got '${v}')`);
    return n;
  };
  const opts: ReportOptions = { progress: (label, total) => new ProgressBar({ total, label }), outDir: values.out };
  if (values.format !== undefined) {
    const formats = values.format.split(',');
    const bad = formats.find((f) => f !== 'png' && f !== 'svg');
    if (bad) throw new Error(`--format: unknown format '${bad}' (png, svg)`);
    opts.formats = formats as ImageFormat[];
  }
  if (values.width !== undefined) opts.width = positive('--width', values.width);
  if (values.height !== undefined) opts.height = positive('--height', values.height);
  if (values.scale !== undefined) {
    const s = Number(values.scale);
    if (!Number.isFinite(s) || s <= 0 || s > 8) throw new Error(`--scale must be a number in (0, 8] (got '${values.scale}')`);
    opts.scale = s;
  }
  if (values['no-images']) opts.noImages = true;
  if (dirs.length === 0) {
    console.error(HELP);
    return 2;
  }
  const files = await writeReport(dirs, opts);
  const summary = files[files.length - 1];
  console.log(`wrote ${files.length} files; summary: ${summary}`);
  return 0;
}

/** The options, or an error that names the bad one and shows the usage. */
function parseOrExplain(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        out: { type: 'string' },
        scale: { type: 'string' },
        format: { type: 'string' },
        width: { type: 'string' },
        height: { type: 'string' },
        'no-images': { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${HELP}`);
  }
}
