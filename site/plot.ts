// Plotly, loaded once on the first plot (a separate ~4.6 MB file: the walkthrough's first panels do not wait for it).
import type { PlotlyFigure } from '../src/analysis/figures.js';

interface PlotlyApi {
  react(el: HTMLElement, data: unknown[], layout: unknown, config?: unknown): Promise<void>;
}

let loading: Promise<PlotlyApi> | undefined;

function plotly(): Promise<PlotlyApi> {
  return (loading ??= new Promise((resolve, reject) => {
    const w = window as unknown as { Plotly?: PlotlyApi };
    if (w.Plotly) return resolve(w.Plotly);
    const s = document.createElement('script');
    s.src = new URL('plotly.min.js', document.baseURI).href;
    s.onload = () => (w.Plotly ? resolve(w.Plotly) : reject(new Error('plotly.min.js loaded but set no window.Plotly')));
    s.onerror = () => reject(new Error('cannot load plotly.min.js'));
    document.head.appendChild(s);
  }));
}

/** Draw (or redraw in place) a figure built by src/analysis/figures.ts; counts draws on the element for tests. */
export async function drawFigure(el: HTMLElement, fig: PlotlyFigure): Promise<void> {
  const P = await plotly();
  await P.react(el, fig.data as unknown[], { ...fig.layout, autosize: true, height: 300, margin: { t: 40, l: 50, r: 10, b: 40 } }, { responsive: true, displaylogo: false });
  el.dataset.draws = String(Number(el.dataset.draws ?? 0) + 1);
  el.dataset.points = String((fig.data as { x?: unknown[] }[]).reduce((a, t) => a + (t.x?.length ?? 0), 0));
}
