// Static export through Chromium: a PNG of the requested size (signature and IHDR checked), an SVG that parses as
// XML with the requested size, one browser for several exports, and a clear message without Chromium.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { accuracyCurve, decodeDataUrl, findChromium, pngSize, syntheticRun, transitionHeatmap, withExporter } from '../src/analysis/index.js';

const run = syntheticRun({ algo: 'igrpo', seed: 1, steps: 4 });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-export-'));

/** Root tag, width and height of an SVG, parsed by Python's XML parser (a real parse, not a regex). */
function parseSvg(file: string): { tag: string; width: string; height: string } {
  const py = 'import sys, xml.etree.ElementTree as E\nr = E.parse(sys.argv[1]).getroot()\nprint(r.tag, r.get("width"), r.get("height"))';
  const r = spawnSync('/usr/bin/python3', ['-c', py, file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `SVG does not parse: ${r.stderr}`);
  const [tag, width, height] = r.stdout.trim().split(' ');
  return { tag, width, height };
}

test('PNG and SVG exports have the requested sizes; one browser serves several figures', async () => {
  const files = await withExporter(async (ex) => [
    await ex.write(accuracyCurve(run.metrics), path.join(tmp, 'acc.png'), { width: 640, height: 400 }),
    await ex.write(transitionHeatmap(run.rollouts), path.join(tmp, 'heat.png'), { width: 500, height: 300, scale: 2 }),
    await ex.write(accuracyCurve(run.metrics), path.join(tmp, 'acc.svg'), { width: 700, height: 450 }),
  ]);
  assert.deepEqual(pngSize(fs.readFileSync(files[0])), { width: 640, height: 400 });
  assert.deepEqual(pngSize(fs.readFileSync(files[1])), { width: 1000, height: 600 });
  assert.ok(fs.statSync(files[0]).size > 5000, 'a drawn figure, not a blank image');
  assert.deepEqual(parseSvg(files[2]), { tag: '{http://www.w3.org/2000/svg}svg', width: '700', height: '450' });
  assert.match(fs.readFileSync(files[2], 'utf8'), /Training accuracy/);
});

test('pngSize rejects bytes that are not a PNG; data URLs decode', () => {
  assert.throws(() => pngSize(Buffer.from('GIF89a-not-a-png-at-all-here')), /not a PNG/);
  assert.equal(decodeDataUrl('data:image/svg+xml,%3Csvg%2F%3E').toString(), '<svg/>');
  assert.deepEqual([...decodeDataUrl('data:image/png;base64,AQID')], [1, 2, 3]);
});

test('a missing Chromium gives a message that says what to install', async () => {
  const saved = process.env.IGRPO_CHROMIUM;
  process.env.IGRPO_CHROMIUM = path.join(tmp, 'no-chromium-here');
  try {
    assert.throws(() => findChromium(), /IGRPO_CHROMIUM=.*does not exist/);
    await assert.rejects(withExporter((ex) => ex.render(accuracyCurve(run.metrics))), /does not exist/);
  } finally {
    if (saved === undefined) delete process.env.IGRPO_CHROMIUM;
    else process.env.IGRPO_CHROMIUM = saved;
  }
});
