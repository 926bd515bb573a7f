// Small DOM helpers for the page (no UI framework: a few panels of tables and plots).
import { escapeHtml } from '../src/analysis/html.js';

export { escapeHtml };

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page: no element #${id}`);
  return el as T;
};

export const fmt = (x: number | null | undefined, digits = 3): string =>
  x === null || x === undefined ? '—' : Number.isInteger(x) ? String(x) : Math.abs(x) < 1e-3 && x !== 0 ? x.toExponential(2) : x.toFixed(digits);

/** A table from rows of cells (strings are escaped; {html} is inserted as is). */
export type Cell = string | number | boolean | null | undefined | { html: string };
export function table(head: string[], rows: Cell[][], cls = ''): string {
  const cell = (c: Cell) =>
    typeof c === 'object' && c !== null ? c.html : typeof c === 'number' ? fmt(c) : c === undefined || c === null ? '—' : escapeHtml(String(c));
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${cell(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** Text with its newlines shown (the model sees them as tokens): ⏎ then the break. */
export const showText = (s: string): string => `<pre class="text">${escapeHtml(s).replace(/\n/g, '<span class="nl">⏎</span>\n')}</pre>`;

export const mark = (ok: boolean): { html: string } => ({ html: ok ? '<span class="ok">✓</span>' : '<span class="bad">✗</span>' });
