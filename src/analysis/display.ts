// Rich output in the igrpo-ts kernel (tslab): MIME bundles with several types at once, and displays that update in
// place (progress bars, live plots). tslab's public `display.raw` sends one MIME type per message; we use the same
// channel it uses (tslab/dist/jupyter's lastWriteDisplayData, set while a cell runs) to send whole bundles.
//
// Figures go out as application/vnd.plotly.v1+json (JupyterLab with plotly's extension, VS Code) plus a small
// text/html fallback (the classic Notebook, plain JupyterLab, nbconvert's HTML export) that draws the figure with
// plotly.js loaded *by URL from the Jupyter server itself*: the kernel installer puts plotly.min.js into the kernel
// spec's folder, which every Jupyter server (notebook 6, jupyter_server / JupyterLab) serves offline at
// {base_url}kernelspecs/igrpo-ts/FILE. Each figure's HTML loads it on its own (once per page: a shared promise; via
// require.js where the page has it, as the classic Notebook does: an AMD build of plotly.js registers there instead
// of setting window.Plotly; plotly.js 4's bundle is not AMD and sets window.Plotly either way), so a figure draws again after re-running its cell,
// saving and reopening the notebook, or reloading the page — the notebook file holds only the figure's JSON.
// Where that URL does not answer it tries the installer's unversioned copy (an upgrade replaced the versioned file),
// then cdn.plot.ly (an HTML export opened from disk). Where the script may not run at all (an untrusted notebook)
// the figure's div shows a static SVG picture (static-svg.ts) that the script replaces.
// IGRPO_PLOTLY_HTML picks the fallback:
//   server (default) | cdn (only cdn.plot.ly) | inline (plotly.js embedded once per kernel session, ≈4.8 MB, for
//   a self-contained HTML export; figures blank after a page reload or in a reopened notebook) | none (no HTML).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { packageRoot } from '../paths.js';
import type { PlotlyFigure } from './figures.js';
import { flatten } from './flat.js';
import { escapeHtml } from './html.js';

export { escapeHtml } from './html.js';
import { figureSvg } from './static-svg.js';

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


/** JSON that is safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

type PlotlyHtmlMode = 'server' | 'inline' | 'cdn' | 'none';

function plotlyHtmlMode(): PlotlyHtmlMode {
  const m = process.env.IGRPO_PLOTLY_HTML ?? 'server';
  if (m === 'server' || m === 'inline' || m === 'cdn' || m === 'none') return m;
  throw new Error(`IGRPO_PLOTLY_HTML must be server, inline, cdn or none (got '${m}')`);
}

/** The kernel spec the installer writes (scripts/install-kernel.ts); its folder is served by Jupyter. */
export const KERNEL_SPEC_NAME = 'igrpo-ts';

/** The installer's unversioned copy of plotly.js in the kernel spec folder. */
export const PLOTLY_STABLE_ASSET = 'plotly.min.js';

/** plotly.js's file name in the kernel spec folder, versioned so that a browser never uses a stale cached copy. */
export function plotlyAssetName(): string {
  return `plotly-${plotlyVersion()}.min.js`;
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

/** Where a figure's HTML looks for plotly.js, in order: '{base}' is the Jupyter server's base URL. */
export function plotlySources(mode: PlotlyHtmlMode = plotlyHtmlMode()): string[] {
  const cdn = `https://cdn.plot.ly/plotly-${plotlyVersion()}.min.js`;
  if (mode === 'cdn') return [cdn];
  // The versioned file first (never a stale cached copy), then the installer's unversioned copy of whatever plotly.js
  // is installed now: a figure saved today still draws after an upgrade replaced the versioned file.
  if (mode === 'server') return [`{base}kernelspecs/${KERNEL_SPEC_NAME}/${plotlyAssetName()}`, `{base}kernelspecs/${KERNEL_SPEC_NAME}/${PLOTLY_STABLE_ASSET}`, cdn];
  return []; // inline: the loader output defines window.Plotly
}

// The loader every figure carries (ES5, ~1 kB): window.Plotly if present, else one shared promise that loads
// plotly.js from the first source that answers — through require.js when the page has an AMD loader (the classic
// Notebook: plotly's UMD bundle would register as an anonymous module and never set window.Plotly), else a <script>.
const LOADER_JS =
  'function igrpoPlotly(urls){var w=window;if(w.Plotly)return Promise.resolve(w.Plotly);if(w.__igrpoPlotly)return w.__igrpoPlotly;' +
  'var base="/";try{var b=document.body&&document.body.getAttribute("data-base-url");var c=document.getElementById("jupyter-config-data");' +
  'base=b||(c&&JSON.parse(c.textContent).baseUrl)||"/";}catch(e){}if(base.charAt(base.length-1)!=="/")base+="/";' +
  'w.__igrpoPlotly=new Promise(function(resolve,reject){function next(i){if(i>=urls.length){delete w.__igrpoPlotly;reject(new Error("plotly.js could not be loaded"));return;}' +
  'var url=urls[i].replace("{base}",base);if(typeof w.define==="function"&&w.define.amd&&typeof w.require==="function"){var name="igrpo-plotly-"+i;var paths={};paths[name]=url.replace(/\\.js$/,"");' +
  'w.require.config({paths:paths});w.require([name],function(P){P=P||w.Plotly;if(P){w.Plotly=P;resolve(P);}else next(i+1);},function(){if(w.requirejs&&w.requirejs.undef)w.requirejs.undef(name);next(i+1);});}' +
  'else{var s=document.createElement("script");s.src=url;s.charset="utf-8";s.onload=function(){w.Plotly?resolve(w.Plotly):next(i+1);};s.onerror=function(){next(i+1);};document.head.appendChild(s);}}next(0);});' +
  'return w.__igrpoPlotly;}';

/**
 * A figure's HTML fallback: a div and a script that loads plotly.js (see plotlySources) if the page lacks it and
 * draws the figure. Small (the figure's JSON plus ~1 kB); it holds no plotly.js.
 */
export function figureHtml(fig: PlotlyFigure, id = `igrpo-fig-${randomBytes(6).toString('hex')}`, sources: string[] = plotlySources()): string {
  const height = typeof fig.layout.height === 'number' ? fig.layout.height : 420;
  // The static picture (static-svg.ts) inside the figure's div: what an untrusted notebook shows, where the script
  // below is dropped (JupyterLab's sanitizer keeps <img> with a data: src, packages/apputils/src/sanitizer.ts). The
  // script removes it when plotly.js draws.
  const img = `<img class="igrpo-static" alt="${escapeHtml(fig.layout.title?.text ?? 'figure')}" width="700" height="${height}" style="max-width:100%;height:auto" src="data:image/svg+xml;base64,${Buffer.from(figureSvg(fig)).toString('base64')}">`;
  return (
    `<div id="${id}" class="igrpo-figure" style="width:100%;min-height:${height}px">${img}</div>\n` +
    `<script type="text/javascript">(function(){var fig=${scriptJson(fig)};var id=${JSON.stringify(id)};${LOADER_JS}` +
    `function draw(P){var el=document.getElementById(id);if(!el)return;var s=el.querySelector(".igrpo-static");if(s)s.parentNode.removeChild(s);el.style.height="${height}px";P.react(el,fig.data,fig.layout,{responsive:true});}` +
    `if(window.Plotly){draw(window.Plotly);return;}` +
    // inline mode: the loader output defines window.Plotly a moment later
    `var urls=${scriptJson(sources)};if(urls.length===0){var tries=0;(function wait(){if(window.Plotly)draw(window.Plotly);else if(tries++<400)setTimeout(wait,50);})();return;}` +
    `igrpoPlotly(urls).then(draw,function(e){var el=document.getElementById(id);if(el){var n=document.createElement("div");n.style.color="#999";n.textContent="(static preview: "+e.message+")";el.appendChild(n);}});})();</script>`
  );
}

let loaderShown = false;

/** Forget that the loader went out (a new notebook in the same kernel, or a cleared output). */
export function resetPlotlyLoader(): void {
  loaderShown = false;
}

function ensureLoader(): void {
  const mode = plotlyHtmlMode();
  if (loaderShown || mode !== 'inline') return;
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
