// Rich output in the igrpo-ts kernel (tslab): MIME bundles with several types at once, and displays that update in
// place (progress bars, live plots). tslab's public `display.raw` sends one MIME type per message; we use the same
// channel it uses (tslab/dist/jupyter's lastWriteDisplayData, set while a cell runs) to send whole bundles.
//
// Figures go out as application/vnd.plotly.v1+json (JupyterLab with plotly's extension, VS Code) plus a text/html
// fallback (plain JupyterLab, nbconvert's HTML export). The fallback does not embed plotly.js per figure: the
// first figure of a kernel session is preceded by one loader output holding plotly.js (≈4.8 MB, once), and every
// figure's HTML is a <div> plus a few lines that wait for window.Plotly. IGRPO_PLOTLY_HTML picks the loader:
//   inline (default, works offline) | cdn (a <script src> to cdn.plot.ly, small notebooks, needs the network)
//   | none (no HTML fallback at all).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { packageRoot } from '../paths.js';
import type { PlotlyFigure } from './figures.js';
import { flatten } from './flat.js';

export type MimeBundle = Record<string, unknown>;
type Writer = (msg: { data: MimeBundle; metadata: Record<string, unknown>; transient: { display_id?: string } }, update: boolean) => void;

function rootRequire(): NodeRequire {
  return createRequire(path.join(packageRoot(), 'package.json'));
}

/** The kernel's display writer while a cell runs; null outside the igrpo-ts kernel (CLI, tests). */
function writer(): Writer | null {
  try {
    const req = rootRequire();
    // Only if the kernel already loaded it: requiring it ourselves would pull in tslab's compiler for nothing.
    const mod = req.cache[req.resolve('tslab/dist/jupyter')];
    return (mod?.exports as { lastWriteDisplayData?: Writer | null } | undefined)?.lastWriteDisplayData ?? null;
  } catch {
    return null;
  }
}

export function inNotebook(): boolean {
  return writer() !== null;
}

/** A display output that later calls replace in place (Jupyter's display_id + update_display_data). */
export class UpdatableDisplay {
  private readonly id = randomBytes(8).toString('hex');
  private shown = false;

  /** Shows the bundle the first time, replaces it afterwards. Returns false outside a notebook. */
  render(bundle: MimeBundle): boolean {
    const write = writer();
    if (!write) return false;
    write({ data: bundle, metadata: {}, transient: { display_id: this.id } }, this.shown);
    this.shown = true;
    return true;
  }
}

/** Displays one bundle (no updates). Returns false outside a notebook. */
export function displayBundle(bundle: MimeBundle): boolean {
  const write = writer();
  if (!write) return false;
  write({ data: bundle, metadata: {}, transient: {} }, false);
  return true;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JSON that is safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

type PlotlyHtmlMode = 'inline' | 'cdn' | 'none';

function plotlyHtmlMode(): PlotlyHtmlMode {
  const m = process.env.IGRPO_PLOTLY_HTML ?? 'inline';
  if (m === 'inline' || m === 'cdn' || m === 'none') return m;
  throw new Error(`IGRPO_PLOTLY_HTML must be inline, cdn or none (got '${m}')`);
}

export function plotlyBundlePath(): string {
  return rootRequire().resolve('plotly.js-dist-min/plotly.min.js');
}

function plotlyVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(path.dirname(plotlyBundlePath()), 'package.json'), 'utf8')).version;
}

/** The HTML that defines window.Plotly once for every figure after it. */
export function plotlyLoaderHtml(mode: PlotlyHtmlMode = plotlyHtmlMode()): string {
  if (mode === 'cdn') return `<script src="https://cdn.plot.ly/plotly-${plotlyVersion()}.min.js" charset="utf-8"></script>`;
  const js = fs.readFileSync(plotlyBundlePath(), 'utf8')
    // Inside <script>, "</script" ends the element and "<!--" switches the HTML parser into an escaped state;
    // both only occur inside JS string literals in plotly's bundle, where "<\/" and "<\!" mean the same text.
    .replace(/<\/script/gi, '<\\/script')
    .replace(/<!--/g, '<\\!--');
  return `<script type="text/javascript">/* plotly.js ${plotlyVersion()}, loaded once for the igrpo-ts figures below */\n${js}\n</script>`;
}

/** A figure's HTML fallback: a div and a script that draws it once window.Plotly exists. */
export function figureHtml(fig: PlotlyFigure, id = `igrpo-fig-${randomBytes(6).toString('hex')}`): string {
  const height = typeof fig.layout.height === 'number' ? fig.layout.height : 420;
  return (
    `<div id="${id}" class="igrpo-figure" style="width:100%;height:${height}px"></div>\n` +
    `<script type="text/javascript">(function(){var fig=${scriptJson(fig)};var tries=0;` +
    `function draw(){if(window.Plotly){window.Plotly.react(${JSON.stringify(id)},fig.data,fig.layout,{responsive:true});}` +
    `else if(tries++<400){setTimeout(draw,50);}}draw();})();</script>`
  );
}

let loaderShown = false;

/** Forget that the loader went out (a new notebook in the same kernel, or a cleared output). */
export function resetPlotlyLoader(): void {
  loaderShown = false;
}

function ensureLoader(): void {
  const mode = plotlyHtmlMode();
  if (loaderShown || mode === 'none') return;
  if (displayBundle({ 'text/html': plotlyLoaderHtml(mode), 'text/plain': '' })) loaderShown = true;
}

/** The figure's bundle: plotly JSON, the HTML fallback (unless IGRPO_PLOTLY_HTML=none) and a text line. */
export function figureBundle(fig: PlotlyFigure): MimeBundle {
  const bundle: MimeBundle = {
    'application/vnd.plotly.v1+json': { data: fig.data, layout: fig.layout, config: { responsive: true } },
    'text/plain': `<plotly figure: ${fig.layout.title.text}>`,
  };
  if (plotlyHtmlMode() !== 'none') bundle['text/html'] = figureHtml(fig);
  return bundle;
}

/** Shows a figure in the notebook; outside one, prints a line saying what it would show. */
export function showFigure(fig: PlotlyFigure): void {
  ensureLoader();
  if (!displayBundle(figureBundle(fig))) console.log(`<plotly figure: ${fig.layout.title.text}>`);
}

/** A figure shown once and redrawn in place, e.g. a training curve updated every step. */
export class LiveFigure {
  private readonly display = new UpdatableDisplay();
  update(fig: PlotlyFigure): void {
    ensureLoader();
    this.display.render(figureBundle(fig));
  }
}

export function showHtml(html: string, plain = html.replace(/<[^>]*>/g, '')): void {
  if (!displayBundle({ 'text/html': html, 'text/plain': plain })) console.log(plain);
}

export function showMarkdown(md: string): void {
  if (!displayBundle({ 'text/markdown': md, 'text/plain': md })) console.log(md);
}

const IMAGE_TYPES: Record<string, string> = { '.png': 'image/png', '.svg': 'image/svg+xml', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif' };

/**
 * Markdown whose local images (![alt](relative/path.png), relative to `baseDir`) are embedded as data URLs. A
 * notebook renders markdown outputs against the *notebook's* folder through the Jupyter server, so a report's
 * relative image paths (e.g. summary.md's) would show as broken images; embedded ones show anywhere, also after
 * saving. Remote (http:, data:) and missing images are left as they are.
 */
export function inlineMarkdownImages(md: string, baseDir: string): string {
  return md.replace(/!\[([^\]]*)\]\(([^)\s]+)\)/g, (whole, alt: string, src: string) => {
    if (/^[a-z]+:/i.test(src)) return whole;
    const file = path.resolve(baseDir, decodeURI(src));
    const type = IMAGE_TYPES[path.extname(file).toLowerCase()];
    if (!type || !fs.existsSync(file)) return whole;
    return `![${alt}](data:${type};base64,${fs.readFileSync(file).toString('base64')})`;
  });
}

/** Shows a markdown file (e.g. a report's summary.md) with its images embedded, so they render in the notebook. */
export function showMarkdownFile(file: string): void {
  const md = fs.readFileSync(file, 'utf8');
  const inlined = inlineMarkdownImages(md, path.dirname(file));
  if (!displayBundle({ 'text/markdown': inlined, 'text/plain': md })) console.log(md);
}

type Cell = string | number | boolean | null | undefined;

function formatCell(v: Cell, digits: number): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  return v === null || v === undefined ? '' : String(v);
}

/** Rows as an aligned plain-text table (what a terminal or a text-only frontend shows). */
export function textTable(records: readonly object[], digits = 4): string {
  const rows = records.map((r) => flatten(r)) as Record<string, Cell>[];
  if (rows.length === 0) return '(no rows)';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => cols.map((c) => formatCell(r[c], digits)));
  const widths = cols.map((c, j) => Math.max(c.length, ...cells.map((r) => r[j].length)));
  const line = (xs: string[]) => xs.map((x, j) => x.padStart(widths[j])).join('  ');
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** Rows as an HTML table (numbers right-aligned, rounded to `digits`). */
export function htmlTable(records: readonly object[], digits = 4, caption?: string): string {
  const rows = records.map((r) => flatten(r)) as Record<string, Cell>[];
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const head = cols.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${cols.map((c) => `<td style="text-align:${typeof r[c] === 'number' ? 'right' : 'left'}">${escapeHtml(formatCell(r[c], digits))}</td>`).join('')}</tr>`)
    .join('\n');
  const cap = caption ? `<caption style="caption-side:top;text-align:left">${escapeHtml(caption)}</caption>` : '';
  return `<table class="igrpo-table">${cap}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A small table: HTML in the notebook, aligned text elsewhere. */
export function showTable(rows: readonly object[], opts: { digits?: number; caption?: string } = {}): void {
  const text = (opts.caption ? `${opts.caption}\n` : '') + textTable(rows, opts.digits);
  if (!displayBundle({ 'text/html': htmlTable(rows, opts.digits, opts.caption), 'text/plain': text })) console.log(text);
}

/** The shape of a danfo DataFrame that showFrame needs (kept structural so display.ts does not load danfo). */
export interface FrameLike {
  columns: string[];
  values: unknown[];
  shape: number[];
}

/** A danfo DataFrame as a table (first maxRows rows), instead of danfo's box-drawing print. */
export function frameRows(df: FrameLike, maxRows = 20): Record<string, Cell>[] {
  const values = df.values as Cell[][];
  return values.slice(0, maxRows).map((row) => Object.fromEntries(df.columns.map((c, j) => [c, row[j]])));
}

export function showFrame(df: FrameLike, opts: { digits?: number; caption?: string; maxRows?: number } = {}): void {
  const maxRows = opts.maxRows ?? 20;
  const more = df.shape[0] > maxRows ? ` (first ${maxRows} of ${df.shape[0]} rows)` : '';
  showTable(frameRows(df, maxRows), { digits: opts.digits, caption: (opts.caption ?? '') + more || undefined });
}

/** Shows a PNG or SVG file inline (e.g. an exported figure). */
export function showImage(file: string): void {
  const svg = file.toLowerCase().endsWith('.svg');
  const data = svg ? fs.readFileSync(file, 'utf8') : fs.readFileSync(file).toString('base64');
  if (!displayBundle({ [svg ? 'image/svg+xml' : 'image/png']: data, 'text/plain': `<image ${file}>` })) console.log(`<image ${file}>`);
}
