// A progress bar for long work: in the notebook it is one output updated in place (HTML <progress> plus a text
// line); in a terminal it rewrites one stderr line with \r; elsewhere (logs, CI) it prints a line every 10%.
import { escapeHtml, inNotebook, UpdatableDisplay } from './display.js';

export interface ProgressOptions {
  total: number;
  label?: string;
  /** Minimum milliseconds between redraws (the last one always draws). */
  intervalMs?: number;
}

export interface ProgressState {
  done: number;
  total: number;
  label: string;
  /** Extra values shown after the bar, e.g. { reward: 0.42 }. */
  info: Record<string, string | number>;
  elapsedMs: number;
}

function fmtInfo(info: Record<string, string | number>): string {
  return Object.entries(info)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toFixed(3)) : v}`)
    .join(' ');
}

function eta(s: ProgressState): string {
  if (s.done === 0 || s.done >= s.total) return `${(s.elapsedMs / 1000).toFixed(1)}s`;
  const left = (s.elapsedMs / s.done) * (s.total - s.done);
  return `${(s.elapsedMs / 1000).toFixed(1)}s<${(left / 1000).toFixed(1)}s`;
}

/** "label  42% |██████░░░░| 21/50 [3.1s<4.3s] reward=0.420" */
export function progressLine(s: ProgressState, width = 24): string {
  const frac = s.total > 0 ? Math.min(1, s.done / s.total) : 1;
  const filled = Math.round(frac * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const info = fmtInfo(s.info);
  return `${s.label} ${String(Math.round(frac * 100)).padStart(3)}% |${bar}| ${s.done}/${s.total} [${eta(s)}]${info ? ' ' + info : ''}`;
}

export function progressHtml(s: ProgressState): string {
  return (
    `<div class="igrpo-progress" style="font-family:monospace">${escapeHtml(s.label)} ` +
    `<progress value="${s.done}" max="${s.total}" style="width:240px;vertical-align:middle"></progress> ` +
    `${escapeHtml(`${s.done}/${s.total} [${eta(s)}] ${fmtInfo(s.info)}`)}</div>`
  );
}

export class ProgressBar {
  private readonly state: ProgressState;
  private readonly started = Date.now();
  private lastDraw = 0;
  private lastDecile = -1;
  private readonly display = new UpdatableDisplay();
  private readonly notebook = inNotebook();
  private readonly tty = !!process.stderr.isTTY;
  private readonly intervalMs: number;

  constructor(opts: ProgressOptions) {
    this.state = { done: 0, total: opts.total, label: opts.label ?? '', info: {}, elapsedMs: 0 };
    this.intervalMs = opts.intervalMs ?? 100;
    this.draw(true);
  }

  /** Advances by n (default 1) and optionally updates the values shown after the bar. */
  tick(n = 1, info?: Record<string, string | number>): void {
    this.state.done = Math.min(this.state.total, this.state.done + n);
    if (info) Object.assign(this.state.info, info);
    this.draw(this.state.done >= this.state.total);
  }

  /** Sets the values shown after the bar without advancing. */
  set(info: Record<string, string | number>): void {
    Object.assign(this.state.info, info);
    this.draw(false);
  }

  /** Draws the final state (and ends the terminal line). */
  finish(): void {
    this.draw(true);
    if (!this.notebook && this.tty) process.stderr.write('\n');
  }

  snapshot(): ProgressState {
    return { ...this.state, info: { ...this.state.info }, elapsedMs: Date.now() - this.started };
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    const s = this.snapshot();
    if (this.notebook) {
      this.display.render({ 'text/html': progressHtml(s), 'text/plain': progressLine(s) });
    } else if (this.tty) {
      process.stderr.write(`\r${progressLine(s)}`);
    } else {
      const decile = Math.floor((10 * s.done) / Math.max(1, s.total));
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        process.stderr.write(`${progressLine(s)}\n`);
      }
    }
  }
}

/** Runs fn over items with a bar; the values fn returns (if an object of numbers/strings) show after the bar. */
export async function withProgress<T, R>(
  items: T[],
  label: string,
  fn: (item: T, i: number) => Promise<R> | R,
): Promise<R[]> {
  const bar = new ProgressBar({ total: items.length, label });
  const out: R[] = [];
  for (let i = 0; i < items.length; i++) {
    const r = await fn(items[i], i);
    out.push(r);
    const info = r && typeof r === 'object' && !Array.isArray(r) ? (r as unknown as Record<string, string | number>) : undefined;
    bar.tick(1, info);
  }
  bar.finish();
  return out;
}
