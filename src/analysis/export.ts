// Static figure export (PNG, SVG) through playwright-core driving a system Chromium: plotly.js renders the figure
// in a blank page and Plotly.toImage returns the image. One browser (and one page with plotly loaded) serves every
// export of an exporter; close() it when done, or use withExporter().
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { PlotlyFigure } from './figures.js';
import { plotlyBundlePath } from './display.js';

export type ImageFormat = 'png' | 'svg';

export interface ExportOptions {
  format?: ImageFormat;
  width?: number;
  height?: number;
  /** PNG pixel density (2 gives a 2x-resolution image of the same layout). */
  scale?: number;
}

/** Flags for a headless, offline, sandbox-less Chromium (containers, CI). */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** $IGRPO_CHROMIUM, else the first system Chromium found; a clear error when there is none. */
export function findChromium(): string {
  const override = process.env.IGRPO_CHROMIUM;
  if (override) {
    if (!fs.existsSync(override)) throw new Error(`IGRPO_CHROMIUM=${override} does not exist`);
    return override;
  }
  const found = CANDIDATES.find((c) => fs.existsSync(c));
  if (!found) {
    throw new Error(
      `figure export needs Chromium and none was found (looked for ${CANDIDATES.join(', ')}). ` +
        `Install it (Debian/Ubuntu: sudo apt-get install chromium fonts-liberation) or set IGRPO_CHROMIUM to its path.`,
    );
  }
  return found;
}

export class FigureExporter {
  private browser?: Browser;
  private page?: Page;

  private async ready(): Promise<Page> {
    if (this.page) return this.page;
    const { chromium } = await import('playwright-core');
    const executablePath = findChromium();
    try {
      this.browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true });
    } catch (err) {
      throw new Error(`could not start Chromium at ${executablePath}: ${(err as Error).message.split('\n')[0]}`);
    }
    this.page = await this.browser.newPage();
    await this.page.setContent('<!doctype html><html><body><div id="fig"></div></body></html>');
    await this.page.addScriptTag({ path: plotlyBundlePath() });
    return this.page;
  }

  /** The figure as PNG bytes or SVG text bytes. */
  async render(fig: PlotlyFigure, opts: ExportOptions = {}): Promise<Buffer> {
    const page = await this.ready();
    const args = { fig, format: opts.format ?? 'png', width: opts.width ?? 800, height: opts.height ?? 500, scale: opts.scale ?? 1 };
    const url = await page.evaluate(async (a) => {
      const g = globalThis as unknown as { Plotly: { toImage(f: unknown, o: unknown): Promise<string> } };
      return g.Plotly.toImage({ data: a.fig.data, layout: a.fig.layout }, { format: a.format, width: a.width, height: a.height, scale: a.scale });
    }, args);
    return decodeDataUrl(url);
  }

  /** Writes the figure; the format follows the file's extension (.png / .svg) unless given. */
  async write(fig: PlotlyFigure, file: string, opts: ExportOptions = {}): Promise<string> {
    const ext = path.extname(file).slice(1).toLowerCase();
    const format = opts.format ?? (ext === 'svg' ? 'svg' : 'png');
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, await this.render(fig, { ...opts, format }));
    return file;
  }

  async close(): Promise<void> {
    await this.browser?.close();
    this.browser = undefined;
    this.page = undefined;
  }
}

/** data:image/png;base64,… or data:image/svg+xml,… (URI-encoded) → bytes. */
export function decodeDataUrl(url: string): Buffer {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new Error(`not a data URL: ${url.slice(0, 40)}…`);
  const meta = url.slice(5, comma);
  const body = url.slice(comma + 1);
  return meta.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'utf8');
}

/** Runs fn with one exporter and always closes its browser. */
export async function withExporter<T>(fn: (exporter: FigureExporter) => Promise<T>): Promise<T> {
  const exporter = new FigureExporter();
  try {
    return await fn(exporter);
  } finally {
    await exporter.close();
  }
}

/** Width and height from a PNG's IHDR chunk (throws if the bytes are not a PNG). */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 24 || signature.some((b, i) => png[i] !== b)) throw new Error('not a PNG (bad signature)');
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (String.fromCharCode(...png.subarray(12, 16)) !== 'IHDR') throw new Error('not a PNG (first chunk is not IHDR)');
  return { width: view.getUint32(16), height: view.getUint32(20) };
}
