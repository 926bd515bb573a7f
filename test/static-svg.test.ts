// The static SVG preview that a figure's saved HTML carries for untrusted notebooks (src/analysis/static-svg.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { figureHtml } from '../src/analysis/display.js';
import type { PlotlyFigure } from '../src/analysis/figures.js';
import { figureSvg, niceTicks } from '../src/analysis/static-svg.js';

const layout = (title: string, extra: Record<string, unknown> = {}) => ({ title: { text: title }, xaxis: { title: { text: 'step' } }, yaxis: { title: { text: 'reward' } }, ...extra });

test('niceTicks: round steps spanning the range', () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(3, 47), [10, 20, 30, 40]);
  assert.deepEqual(niceTicks(-0.013, 0.012), [-0.01, -0.005, 0, 0.005, 0.01]);
});

test('a line with its band: the band a filled polygon, the line a stroke at the right place', () => {
  const fig: PlotlyFigure = {
    data: [
      { type: 'scatter', mode: 'lines', x: [0, 1, 2, 2, 1, 0], y: [1, 1, 1, 0, 0, 0], fill: 'toself', fillcolor: 'rgba(214,39,40,0.18)', showlegend: false },
      { type: 'scatter', mode: 'lines', name: 'iGRPO', x: [0, 1, 2], y: [0, 0.5, 1], line: { color: '#d62728', width: 2 } },
    ],
    layout: layout('reward'),
  };
  const svg = figureSvg(fig);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="700" height="420"/);
  assert.match(svg, /<path d="M[^"]+Z" fill="rgba\(214,39,40,0.18\)"/);
  const line = /<path d="M([\d.]+),([\d.]+)L[\d.]+,[\d.]+L([\d.]+),([\d.]+)" fill="none" stroke="#d62728"/.exec(svg);
  assert.ok(line, svg);
  // y grows upwards: the last point (y = 1) is above the first (y = 0); x spans left to right
  assert.ok(Number(line[4]) < Number(line[2]) && Number(line[3]) > Number(line[1]));
  assert.match(svg, />iGRPO</);
  assert.match(svg, />reward</);
});

test('stacked bars, a heatmap and what the preview leaves out', () => {
  const bars = figureSvg({
    data: [
      { type: 'bar', name: 'sampling', x: ['GRPO', 'iGRPO'], y: [2, 3], marker: { color: '#1f77b4' } },
      { type: 'bar', name: 'update', x: ['GRPO', 'iGRPO'], y: [1, 1], marker: { color: '#ff7f0e' } },
      { type: 'scatter', x: [1], y: [1], xaxis: 'x2', yaxis: 'y2' },
      { type: 'violin', y: [1, 2] },
    ],
    layout: layout('time', { barmode: 'stack' }),
  });
  assert.equal((bars.match(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="#(1f77b4|ff7f0e)"\/>/g) ?? []).length, 4 + 2); // bars + legend swatches
  assert.match(bars, /1 trace\(s\) on other panels not shown; no preview for violin/);
  const heat = figureSvg({ data: [{ type: 'heatmap', x: ['a', 'b'], y: ['r', 'w'], z: [[0, 1], [2, 3]] }], layout: layout('transitions') });
  assert.match(heat, /fill="rgb\(247,251,255\)"/); // the smallest value: the scale's first colour
  assert.match(heat, /fill="rgb\(8,48,107\)"/); // the largest: its last
});

test('the figure HTML holds the preview inside the figure div, which the script removes when plotly draws', () => {
  const html = figureHtml({ data: [{ type: 'scatter', x: [1, 2], y: [3, 4] }], layout: layout('t') }, 'fig1', ['x.js']);
  assert.match(html, /^<div id="fig1" class="igrpo-figure" style="width:100%;min-height:420px"><img class="igrpo-static" alt="t" [^>]*src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+"><\/div>/);
  const b64 = /base64,([A-Za-z0-9+/=]+)"/.exec(html)![1];
  assert.match(Buffer.from(b64, 'base64').toString('utf8'), /^<svg /);
  assert.match(html, /querySelector\("\.igrpo-static"\)/);
});
