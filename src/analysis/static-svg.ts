// A static SVG picture of a plotly figure, drawn in TypeScript in about a millisecond: what a figure's saved output
// shows where its script may not run (JupyterLab and the classic Notebook run an output's scripts only in trusted
// notebooks; notebooks from `npm run notebooks`, a colleague or a repository are untrusted, and the figure would be an
// empty box). The live plotly figure replaces it wherever the script runs.
//
// Why not the Chromium export (export.ts): it takes seconds per figure (a browser start and a plotly render), too slow
// for a figure shown every training step. This covers what the project's figures use — scatter (lines, markers,
// filled bands), bar (stacked or grouped), histogram, heatmap — on the main axes; anything else is named in a note.
// It is a preview, not plotly: no hover, no tick-label collisions handled, a fixed size.
import type { PlotlyFigure, Trace } from './figures.js';

const W = 700;
const FONT = 'Liberation Sans, Arial, sans-serif';
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
const fmt = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

/** About n round tick values spanning [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

interface Scale {
  at(v: number | string): number;
  ticks: { v: number | string; at: number }[];
}

/** A linear scale over numbers, or evenly spaced categories when any value is a string. */
function scale(values: (number | string)[], from: number, to: number, pad: boolean): Scale {
  if (values.some((v) => typeof v === 'string')) {
    const cats = [...new Set(values.map(String))];
    const step = (to - from) / Math.max(1, cats.length);
    const at = (v: number | string) => from + step * (cats.indexOf(String(v)) + 0.5);
    return { at, ticks: cats.map((c) => ({ v: c, at: at(c) })) };
  }
  const xs = values.map(num).filter((v) => !Number.isNaN(v));
  let lo = xs.length ? Math.min(...xs) : 0;
  let hi = xs.length ? Math.max(...xs) : 1;
  if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
  if (pad) [lo, hi] = [lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05];
  const at = (v: number | string) => from + ((num(v) - lo) / (hi - lo)) * (to - from);
  return { at, ticks: niceTicks(lo, hi).map((v) => ({ v, at: at(v) })) };
}

const colorOf = (t: Trace, i: number, key: 'line' | 'marker') => {
  const c = (t[key] as { color?: unknown } | undefined)?.color;
  return typeof c === 'string' ? c : PALETTE[i % PALETTE.length];
};

/** Histogram counts of numeric x values in about `nbins` equal bins. */
function histogram(t: Trace): { x: number[]; y: number[]; width: number } {
  const xs = (t.x ?? []).map(num).filter((v) => !Number.isNaN(v));
  if (xs.length === 0) return { x: [], y: [], width: 1 };
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const n = Math.max(1, Math.min(typeof t.nbinsx === 'number' ? t.nbinsx : 20, Math.ceil(hi - lo) + 1));
  const width = (hi - lo) / n || 1;
  const y = new Array<number>(n).fill(0);
  for (const v of xs) y[Math.min(n - 1, Math.floor((v - lo) / width))]++;
  return { x: y.map((_, i) => lo + width * (i + 0.5)), y, width };
}

const onMainAxes = (t: Trace) => (t.xaxis === undefined || t.xaxis === 'x') && (t.yaxis === undefined || t.yaxis === 'y');

/** The figure as a standalone SVG document (width 700, the layout's height). */
export function figureSvg(fig: PlotlyFigure): string {
  const H = typeof fig.layout.height === 'number' ? fig.layout.height : 420;
  const traces = fig.data.filter(onMainAxes);
  const skipped = fig.data.length - traces.length;
  const legend = traces.filter((t) => t.showlegend !== false && t.name && t.type !== 'heatmap');
  const m = { l: 64, r: 20, t: 48, b: 48 + (legend.length ? 22 * Math.ceil(legend.length / 4) : 0) };
  const [x0, x1, y0, y1] = [m.l, W - m.r, H - m.b, m.t];
  const hist = new Map(traces.filter((t) => t.type === 'histogram').map((t) => [t, histogram(t)]));
  const xsOf = (t: Trace) => (hist.get(t)?.x ?? t.x ?? (t.y ?? []).map((_, i) => i)) as (number | string)[];
  const ysOf = (t: Trace) => (hist.get(t)?.y ?? t.y ?? []) as (number | string)[];
  const stacked = fig.layout.barmode === 'stack';
  const bars = traces.filter((t) => t.type === 'bar' || t.type === 'histogram');
  // stacked bars: the y range must hold each category's sum
  const sums = new Map<string, number>();
  if (stacked) for (const t of bars) xsOf(t).forEach((x, i) => sums.set(String(x), (sums.get(String(x)) ?? 0) + (num(ysOf(t)[i]) || 0)));
  const allX = traces.flatMap(xsOf);
  const allY = [...traces.flatMap(ysOf), ...(bars.length ? [0] : []), ...sums.values()];
  const sx = scale(allX, x0, x1, !bars.length && !traces.some((t) => t.type === 'heatmap'));
  const sy = scale(allY, y0, y1, true);
  const parts: string[] = [];
  const plotBg = ((fig.layout.template as { layout?: { plot_bgcolor?: string } } | undefined)?.layout?.plot_bgcolor ?? fig.layout.plot_bgcolor ?? '#E5ECF6') as string;
  parts.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="${esc(plotBg)}"/>`);
  for (const t of sy.ticks) if (typeof t.v === 'number') parts.push(`<line x1="${x0}" x2="${x1}" y1="${t.at.toFixed(1)}" y2="${t.at.toFixed(1)}" stroke="#d8dee9" stroke-width="1"/>`);
  const base = new Map<string, number>();
  const barTraces = bars.length;
  let barIndex = 0;
  traces.forEach((t, i) => {
    const xs = xsOf(t);
    const ys = ysOf(t);
    if (t.type === 'heatmap' && Array.isArray(t.z)) {
      const z = t.z as number[][];
      const flat = z.flat().filter(Number.isFinite);
      const [lo, hi] = [Math.min(...flat), Math.max(...flat)];
      const cw = (x1 - x0) / Math.max(1, z[0]?.length ?? 1);
      const ch = (y0 - y1) / Math.max(1, z.length);
      z.forEach((row, r) =>
        row.forEach((v, c) => {
          const a = hi > lo ? (v - lo) / (hi - lo) : 0.5;
          // the project's heatmap colour scale, #f7fbff → #08306b
          parts.push(`<rect x="${(x0 + c * cw).toFixed(1)}" y="${(y0 - (r + 1) * ch).toFixed(1)}" width="${cw.toFixed(1)}" height="${ch.toFixed(1)}" fill="rgb(${Math.round(247 - a * 239)},${Math.round(251 - a * 203)},${Math.round(255 - a * 148)})"/>`);
        }),
      );
    } else if (t.type === 'bar' || t.type === 'histogram') {
      const slot = (x1 - x0) / Math.max(1, new Set(xs.map(String)).size);
      const w = stacked ? slot * 0.7 : (slot * 0.8) / barTraces;
      const color = colorOf(t, i, 'marker');
      xs.forEach((x, j) => {
        const v = num(ys[j]) || 0;
        const b = stacked ? (base.get(String(x)) ?? 0) : 0;
        if (stacked) base.set(String(x), b + v);
        const cx = sx.at(x) - (stacked ? w / 2 : slot * 0.4 - barIndex * w);
        const [ya, yb] = [sy.at(b), sy.at(b + v)];
        parts.push(`<rect x="${cx.toFixed(1)}" y="${Math.min(ya, yb).toFixed(1)}" width="${w.toFixed(1)}" height="${Math.abs(ya - yb).toFixed(1)}" fill="${esc(color)}"/>`);
      });
      barIndex++;
    } else if (t.type === 'scatter' || t.type === 'scattergl') {
      const pts = xs.map((x, j) => [sx.at(x), sy.at(ys[j])]).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
      const d = pts.map(([a, b], j) => `${j ? 'L' : 'M'}${a.toFixed(1)},${b.toFixed(1)}`).join('');
      const mode = typeof t.mode === 'string' ? t.mode : 'lines+markers';
      if (t.fill === 'toself' && pts.length) parts.push(`<path d="${d}Z" fill="${esc(typeof t.fillcolor === 'string' ? t.fillcolor : 'rgba(0,0,0,0.1)')}" stroke="none"/>`);
      else if (mode.includes('lines') && pts.length > 1) {
        const width = num((t.line as { width?: unknown } | undefined)?.width);
        if (width !== 0) parts.push(`<path d="${d}" fill="none" stroke="${esc(colorOf(t, i, 'line'))}" stroke-width="${Number.isNaN(width) ? 2 : width}"/>`);
      }
      if (mode.includes('markers')) for (const [a, b] of pts) parts.push(`<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="4" fill="${esc(colorOf(t, i, 'marker'))}"/>`);
    }
  });
  const other = [...new Set(traces.map((t) => t.type).filter((ty) => !['scatter', 'scattergl', 'bar', 'histogram', 'heatmap'].includes(ty)))];
  const text = (x: number, y: number, s: string, extra = '') => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${extra}>${esc(s)}</text>`;
  parts.push(`<line x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}" stroke="#888"/><line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y1}" stroke="#888"/>`);
  for (const t of sx.ticks) parts.push(text(t.at, y0 + 16, typeof t.v === 'number' ? fmt(t.v) : t.v.slice(0, 14), 'text-anchor="middle" font-size="11"'));
  for (const t of sy.ticks) parts.push(text(x0 - 6, t.at + 4, typeof t.v === 'number' ? fmt(t.v) : t.v.slice(0, 10), 'text-anchor="end" font-size="11"'));
  parts.push(text(W / 2, 26, fig.layout.title?.text ?? '', 'text-anchor="middle" font-size="15"'));
  parts.push(text((x0 + x1) / 2, y0 + 36, fig.layout.xaxis?.title?.text ?? '', 'text-anchor="middle" font-size="12"'));
  parts.push(text(16, (y0 + y1) / 2, fig.layout.yaxis?.title?.text ?? '', `text-anchor="middle" font-size="12" transform="rotate(-90 16 ${((y0 + y1) / 2).toFixed(1)})"`));
  legend.forEach((t, i) => {
    const lx = x0 + (i % 4) * 150;
    const ly = y0 + 58 + Math.floor(i / 4) * 22;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="18" height="4" fill="${esc(colorOf(t, fig.data.indexOf(t), t.type === 'scatter' ? 'line' : 'marker'))}"/>`);
    parts.push(text(lx + 24, ly - 3, String(t.name).slice(0, 22), 'font-size="11"'));
  });
  const notes = [skipped ? `${skipped} trace(s) on other panels not shown` : '', other.length ? `no preview for ${other.join(', ')}` : ''].filter(Boolean);
  notes.push('static preview');
  parts.push(text(W - 6, H - 6, notes.join('; '), 'text-anchor="end" font-size="10" fill="#999"'));
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">` +
    `<rect width="${W}" height="${H}" fill="white"/>${parts.join('')}</svg>`
  );
}
