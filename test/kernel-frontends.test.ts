// What JupyterLab 4 and VS Code need of the kernel (issue 23), checked over jupyter_client against one running kernel
// started from its kernel spec as the front ends start it (KernelManager with kernel_name, spec installed by our
// installer into a temporary JUPYTER_PATH). The reference is jupyter_client's docs/messaging.rst and Debian's
// ipykernel: message shapes; a Run All whose status reads busy whenever a cell prints; error outputs that pass
// nbformat.validate when saved as JupyterLab saves them (output = {...msg.content, output_type}, packages/outputarea
// widget.ts); replies to history/comm/shutdown requests and nothing printed into a running cell for the rest; the
// interrupt of a synchronous and of an asynchronous training cell leaving a usable trainer; a figure's saved output
// showing the figure in a page where scripts do not run (an untrusted notebook), rendered in headless Chromium.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { prepareRunner, type NotebookRunner } from '../scripts/run-notebooks.js';
import { CHROMIUM_FLAGS, findChromium } from '../src/analysis/export.js';

// One kernel for everything; the script prints one JSON line of observations, the assertions are below.
const SESSION_PY = String.raw`
import json, os, sys, tempfile, time, queue
import nbformat
from jupyter_client.manager import start_new_kernel

km, kc = start_new_kernel(kernel_name='igrpo-ts', startup_timeout=180)
out = {}
log = []  # every IOPub message seen, in order: (msg_type, parent msg_id, content)

def pump(until, timeout=120):
    """Reads IOPub until until(msg) is true; returns the messages read."""
    got = []
    end = time.time() + timeout
    while time.time() < end:
        try:
            m = kc.get_iopub_msg(timeout=max(0.1, end - time.time()))
        except queue.Empty:
            break
        rec = (m['header']['msg_type'], m['parent_header'].get('msg_id'), m['content'])
        log.append(rec); got.append(rec)
        if until(rec): return got
    raise TimeoutError('IOPub: gave up waiting; last: %r' % got[-3:])

def idle_of(mid):
    return lambda r: r[0] == 'status' and r[1] == mid and r[2]['execution_state'] == 'idle'

def shell_reply(mid, timeout=120):
    while True:
        r = kc.get_shell_msg(timeout=timeout)
        if r['parent_header'].get('msg_id') == mid: return r

def run(code, timeout=120):
    mid = kc.execute(code)
    msgs = pump(idle_of(mid), timeout)
    return shell_reply(mid)['content'], [m for m in msgs if m[1] == mid]

def texts(msgs):
    return ''.join(m[2]['text'] for m in msgs if m[0] == 'stream')

try:
    info = kc.kernel_info(reply=True)['content']
    out['language_info'] = info['language_info']

    # Run All: three requests at once; each prints, the first in two bursts with a wait between
    ids = [kc.execute(c) for c in [
        'console.log("a1");\nawait new Promise((r) => setTimeout(r, 400));\nconsole.log("a2");',
        'console.log("b");\nawait new Promise((r) => setTimeout(r, 200));',
        'console.log("c");',
    ]]
    start = len(log)
    pump(idle_of(ids[-1]))
    run_all = log[start:]
    state, printed_while = None, []
    for t, parent, c in run_all:
        if t == 'status': state = c['execution_state']
        if t == 'stream': printed_while.append(state)
    out['runAllStates'] = printed_while
    out['runAllStatus'] = [(c['execution_state'], ids.index(p)) for t, p, c in run_all if t == 'status' and p in ids]
    for i in ids: shell_reply(i)

    # a chatty loop: its 3000 lines arrive in a few stream messages
    reply, msgs = run('for (let i = 0; i < 3000; i++) console.log("line", i);')
    out['chatty'] = {'messages': sum(1 for m in msgs if m[0] == 'stream'), 'lines': texts(msgs).count('\n')}

    # an error: the IOPub message, the reply, and the notebook JupyterLab would save
    reply, msgs = run('function inner() {\n  throw new Error("boom 23");\n}\ninner();')
    err = [m[2] for m in msgs if m[0] == 'error'][0]
    out['errorKeys'] = sorted(err.keys())
    out['errorReply'] = {k: reply[k] for k in ('status', 'ename', 'evalue')}
    out['errorReplyHasCount'] = isinstance(reply.get('execution_count'), int)
    out['traceback'] = err['traceback']
    def saved(output):
        nb = {'nbformat': 4, 'nbformat_minor': 5, 'metadata': {'kernelspec': {'name': 'igrpo-ts', 'display_name': 'iGRPO (TypeScript)', 'language': 'typescript'}},
              'cells': [{'cell_type': 'code', 'id': 'e1', 'metadata': {}, 'source': 'inner();', 'execution_count': reply['execution_count'], 'outputs': [output]}]}
        try:
            nbformat.validate(nbformat.from_dict(nb)); return 'valid'
        except nbformat.ValidationError as e:
            return 'invalid: ' + e.message
    out['savedError'] = saved({**err, 'output_type': 'error'})
    # the same with tslab's extra field: the check can fail
    out['savedErrorWithCount'] = saved({**err, 'execution_count': 1, 'output_type': 'error'})

    # requests with no handler in tslab, sent while a cell runs: replies where the spec has one, nothing in the cell
    mid = kc.execute('console.log("start");\nawait new Promise((r) => setTimeout(r, 1500));\nconsole.log("end");')
    time.sleep(0.5)
    hist = kc.history(hist_access_type='tail', n=10)
    ci = kc.comm_info()
    comm_open = kc.session.send(kc.shell_channel.socket, 'comm_open', {'comm_id': 'c23', 'target_name': 'jupyter.widget', 'data': {}})
    kc.session.send(kc.shell_channel.socket, 'comm_msg', {'comm_id': 'nope', 'data': {}})
    kc.session.send(kc.shell_channel.socket, 'made_up_request', {})
    msgs = pump(idle_of(mid))
    cell = [m for m in msgs if m[1] == mid]
    out['runningCellText'] = texts(cell)
    out['runningCellOutputs'] = sorted(set(m[0] for m in cell))
    replies = {}
    while not {mid, hist, ci} <= set(replies):
        r = kc.get_shell_msg(timeout=60)
        replies[r['parent_header']['msg_id']] = r
    out['shellReplyOrder'] = [replies[i]['header']['msg_type'] for i in replies]
    out['history'] = {k: v for k, v in replies[hist]['content'].items()} | {'type': replies[hist]['header']['msg_type']}
    out['commInfo'] = replies[ci]['content'] | {'type': replies[ci]['header']['msg_type']}
    pump(idle_of(comm_open['header']['msg_id']), 30)
    closes = [m for m in log if m[0] == 'comm_close']
    out['commClose'] = closes[0][2] if closes else None

    # a figure, as its output is saved
    reply, msgs = run('import { showFigure } from "./src/analysis/display.js";\nshowFigure({ data: [{ type: "scatter", mode: "lines", name: "reward", x: [1, 2, 3, 4], y: [0.1, 0.4, 0.3, 0.8], line: { color: "#d62728" } }], layout: { title: { text: "saved figure" }, xaxis: { title: { text: "step" } }, yaxis: { title: { text: "reward" } } } });')
    out['figure'] = [m[2]['data'] for m in msgs if m[0] == 'display_data'][0]

    # interrupts: a trainer, then a synchronous and an asynchronous cell interrupted mid-way
    reply, msgs = run(
        'import * as tf from "@tensorflow/tfjs";\nimport { Trainer } from "./src/train/trainer.js";\n'
        'import { lengthScore, tinyConfig, tinyPolicy } from "./src/train/tiny.js";\nimport { throwIfInterrupted } from "./src/util/interrupt.js";\n'
        'const policy = tinyPolicy(5);\n'
        'const trainer = await Trainer.create(tinyConfig({ algo: "igrpo", steps: 100000 }), { policy, score: lengthScore });\n'
        'await trainer.step();\nawait trainer.step();\nconst ids = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]], undefined, "int32");\n'
        'console.log("tensors", tf.memory().numTensors, "step", trainer.stepIndex);', 300)
    out['setup'] = reply['status'] + ' ' + texts(msgs)
    # synchronous: forward and backward passes through the policy in tf.tidy, checking for an interrupt each pass
    # (it says it is under way through a file: its stream output cannot leave while it holds the thread)
    marker = os.path.join(tempfile.mkdtemp(), 'passes')
    mid = kc.execute(
        'import * as fs from "node:fs";\nlet passes = 0;\nconst t0 = Date.now();\nwhile (Date.now() - t0 < 60000) {\n'
        '  tf.tidy(() => {\n    tf.variableGrads(() => policy.tokenLogProbs(ids).mean().neg() as tf.Scalar, policy.parameters());\n  });\n'
        '  passes++;\n  if (passes === 5) fs.writeFileSync(' + json.dumps(marker) + ', "5");\n'
        '  throwIfInterrupted("synchronous loop, pass " + passes);\n}')
    end = time.time() + 120
    while not os.path.exists(marker) and time.time() < end: time.sleep(0.05)
    t = time.time(); km.interrupt_kernel()
    r = shell_reply(mid)['content']; out['syncInterrupt'] = {'ename': r.get('ename'), 'evalue': r.get('evalue'), 'seconds': time.time() - t}
    pump(idle_of(mid))
    reply, msgs = run('const s0 = trainer.stepIndex;\nawait trainer.step();\nconsole.log("tensors", tf.memory().numTensors, "step", trainer.stepIndex - s0);', 300)
    out['afterSync'] = reply['status'] + ' ' + texts(msgs) + ('' if reply['status'] == 'ok' else '%s: %s\n%s' % (reply.get('ename'), reply.get('evalue'), '\n'.join(reply.get('traceback', []))))
    # asynchronous: trainer.run(), interrupted after its first step
    mid = kc.execute('await trainer.run({ onStep: () => console.log("ran step", trainer.stepIndex) });')
    pump(lambda r: r[1] == mid and r[0] == 'stream' and 'ran step' in r[2]['text'], 300)
    t = time.time(); km.interrupt_kernel()
    r = shell_reply(mid)['content']; out['asyncInterrupt'] = {'ename': r.get('ename'), 'evalue': r.get('evalue'), 'seconds': time.time() - t}
    pump(idle_of(mid))
    reply, msgs = run('const s1 = trainer.stepIndex;\nawait trainer.step();\nconsole.log("tensors", tf.memory().numTensors, "step", trainer.stepIndex - s1);', 300)
    out['afterAsync'] = reply['status'] + ' ' + texts(msgs) + ('' if reply['status'] == 'ok' else '%s: %s\n%s' % (reply.get('ename'), reply.get('evalue'), '\n'.join(reply.get('traceback', []))))

    # shutdown with restart: the reply says so, and the process exits
    msg = kc.session.msg('shutdown_request', {'restart': True})
    kc.control_channel.send(msg)
    r = kc.get_control_msg(timeout=30)
    out['shutdown'] = {'type': r['header']['msg_type'], **r['content']}
    end = time.time() + 15
    while km.is_alive() and time.time() < end: time.sleep(0.1)
    out['exited'] = not km.is_alive()
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
print(json.dumps(out))
`;

let runner: NotebookRunner;
let out: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
before(() => {
  runner = prepareRunner();
  const r = spawnSync(runner.python, ['-c', SESSION_PY], {
    env: { ...process.env, JUPYTER_PATH: path.join(runner.prefix, 'share', 'jupyter'), IGRPO_KERNEL_INTERRUPT_GRACE_MS: '20000' },
    encoding: 'utf8',
    timeout: 600_000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `the jupyter_client session failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-6000)}`);
  out = JSON.parse(line);
  if (process.env.IGRPO_TEST_VERBOSE) console.log(JSON.stringify(out, null, 1));
});
after(() => runner?.cleanup());

const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

test('kernel_info: TypeScript highlighting JupyterLab 4 and the classic Notebook find, the compiler version', () => {
  const li = out.language_info;
  assert.equal(li.name, 'typescript');
  const tsVersion = JSON.parse(fs.readFileSync('node_modules/@tslab/typescript-for-tslab/package.json', 'utf8')).version;
  assert.equal(li.version, tsVersion);
  // JupyterLab 4 (findBest: by name, then mime) reaches its TypeScript language through the mime; CodeMirror 5 resolves
  // the same registered mime in `name` to javascript with typescript: true
  assert.equal(li.codemirror_mode.mime, 'application/typescript');
  assert.equal(li.codemirror_mode.name, 'application/typescript');
});

test('Run All: the status reads busy whenever a cell prints, and each request has its own busy…idle', () => {
  assert.ok(out.runAllStates.length >= 4, JSON.stringify(out.runAllStates));
  assert.ok(out.runAllStates.every((s: string) => s === 'busy'), `printed while: ${JSON.stringify(out.runAllStates)}`);
  assert.deepEqual(out.runAllStatus, [['busy', 0], ['idle', 0], ['busy', 1], ['idle', 1], ['busy', 2], ['idle', 2]]);
});

test('stream output is batched: a 3000-line loop arrives whole in a few messages', () => {
  assert.equal(out.chatty.lines, 3000);
  assert.ok(out.chatty.messages <= 20, `${out.chatty.messages} stream messages`);
});

test('errors: the IOPub error has the spec\'s fields only, saved as JupyterLab saves it the notebook validates', () => {
  assert.deepEqual(out.errorKeys, ['ename', 'evalue', 'traceback']);
  assert.deepEqual(out.errorReply, { status: 'error', ename: 'Error', evalue: 'boom 23' });
  assert.ok(out.errorReplyHasCount);
  assert.equal(out.savedError, 'valid');
  assert.match(out.savedErrorWithCount, /^invalid/);
  // IPython 8's frame form, which VS Code links to the cell's line (vscode-jupyter tracebackFormatter.ts)
  const tb = out.traceback as string[];
  assert.equal(tb[0], 'Error: boom 23');
  assert.match(tb[1], /^Cell \u001b\[0;32mIn\[\d+\], line 2\u001b\[0m, in \u001b\[0;36minner\u001b\[0m\n\u001b\[0;32m----> 2\u001b\[0m   throw new Error\("boom 23"\);\n$/);
  assert.match(stripAnsi(tb[2]), /^Cell In\[\d+\], line 4\n----> 4 inner\(\);\n$/);
});

test('history, comm_info, comm_open: replies per spec; unknown requests leave the running cell alone', () => {
  assert.deepEqual(out.history, { status: 'ok', history: [], type: 'history_reply' });
  assert.deepEqual(out.commInfo, { status: 'ok', comms: {}, type: 'comm_info_reply' });
  assert.deepEqual(out.commClose, { comm_id: 'c23', data: {} });
  assert.equal(out.runningCellText, 'start\nend\n');
  assert.deepEqual(out.runningCellOutputs, ['execute_input', 'status', 'stream']);
});

test('interrupt: a synchronous and an asynchronous training cell stop at an interrupt point; the trainer goes on', () => {
  assert.match(out.setup, /^ok [^]*tensors (\d+) step 2\n$/);
  const tensors = Number(/tensors (\d+)/.exec(out.setup)![1]);
  assert.equal(out.syncInterrupt.ename, 'KeyboardInterrupt', JSON.stringify(out.syncInterrupt));
  // stopped inside the loop, after it had run a while (its 5th pass wrote the marker the interrupt waited for)
  assert.ok(Number(/synchronous loop, pass (\d+)/.exec(out.syncInterrupt.evalue)?.[1]) >= 5, out.syncInterrupt.evalue);
  assert.ok(out.syncInterrupt.seconds < 10, `sync interrupt took ${out.syncInterrupt.seconds} s`);
  // usable: one more step, and no tensor left behind by the interrupted tf.tidy
  assert.equal(out.afterSync, `ok tensors ${tensors} step 1\n`);
  assert.equal(out.asyncInterrupt.ename, 'KeyboardInterrupt', JSON.stringify(out.asyncInterrupt));
  assert.ok(out.asyncInterrupt.seconds < 10, `async interrupt took ${out.asyncInterrupt.seconds} s`);
  assert.equal(out.afterAsync, `ok tensors ${tensors} step 1\n`);
});

test('shutdown_request: shutdown_reply with restart and status, and the process exits', () => {
  assert.deepEqual(out.shutdown, { type: 'shutdown_reply', status: 'ok', restart: true });
  assert.equal(out.exited, true);
});

test('a saved figure shows without scripts (an untrusted notebook): its static image is in the HTML output', { timeout: 120_000 }, async (t) => {
  const fig = out.figure as Record<string, unknown>;
  assert.ok(fig['application/vnd.plotly.v1+json'], 'plotly JSON for renderers that have plotly');
  const html = String(fig['text/html']);
  assert.match(html, /<img [^>]*src="data:image\/svg\+xml;base64,/);
  let chromium: string;
  try {
    chromium = findChromium();
  } catch {
    t.skip('Chromium is not installed');
    return;
  }
  const { chromium: pw } = await import('playwright-core');
  const browser = await pw.launch({ executablePath: chromium, args: CHROMIUM_FLAGS, headless: true });
  try {
    // scripts off, as in an untrusted notebook (JupyterLab's sanitizer drops <script> and keeps <img src="data:…">)
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 900, height: 700 } });
    const page = await context.newPage();
    await page.setContent(`<!doctype html><html><body style="margin:0;background:#fff">${html}</body></html>`);
    const img = page.locator('img.igrpo-static');
    await img.waitFor({ state: 'visible', timeout: 10_000 });
    const size = await img.evaluate((el) => {
      const i = el as unknown as { naturalWidth: number; complete: boolean; getBoundingClientRect(): { width: number; height: number } };
      const r = i.getBoundingClientRect();
      return { natural: i.naturalWidth, complete: i.complete, width: r.width, height: r.height };
    }).catch(async () => {
      // evaluate needs JavaScript in the page; measure from outside instead
      const box = await img.boundingBox();
      return { natural: -1, complete: true, width: box?.width ?? 0, height: box?.height ?? 0 };
    });
    assert.ok(size.width > 300 && size.height > 200, `static image ${JSON.stringify(size)}`);
    // the image has the line drawn in the trace's colour: count its pixels in a canvas (in a page with scripts on)
    const png = await img.screenshot();
    const counter = await (await browser.newContext()).newPage();
    const red = await counter.evaluate(async (src) => {
      const g = globalThis as unknown as { Image: new () => { src: string; decode(): Promise<void>; width: number; height: number }; document: { createElement(t: string): { width: number; height: number; getContext(c: string): { drawImage(i: unknown, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } } } };
      const im = new g.Image();
      im.src = src;
      await im.decode();
      const c = g.document.createElement('canvas');
      c.width = im.width;
      c.height = im.height;
      const ctx = c.getContext('2d');
      ctx.drawImage(im, 0, 0);
      const d = ctx.getImageData(0, 0, im.width, im.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 180 && d[i + 1] < 100 && d[i + 2] < 100) n++;
      return n;
    }, `data:image/png;base64,${png.toString('base64')}`);
    assert.ok(red > 50, `${red} pixels in the trace's colour`);
    fs.writeFileSync(path.join(os.tmpdir(), 'igrpo-untrusted-figure.png'), png);
  } finally {
    await browser.close();
  }
});

test('installer: --python of a virtual environment installs into its sys.prefix (where VS Code looks); plotly.js files of an earlier install keep working; Windows gets message interrupts', { timeout: 120_000 }, async (t) => {
  const { installKernel, kernelSpec } = await import('../scripts/install-kernel.js');
  assert.equal(kernelSpec({ platform: 'win32' }).interrupt_mode, 'message');
  assert.equal(kernelSpec({ platform: 'linux' }).interrupt_mode, 'signal');
  const venv = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-venv-'));
  try {
    const made = spawnSync(runner.python, ['-m', 'venv', '--system-site-packages', '--without-pip', venv], { encoding: 'utf8' });
    if (made.status !== 0) {
      t.skip(`no venv module: ${made.stderr.trim().split('\n').pop()}`);
      return;
    }
    const python = path.join(venv, 'bin', 'python');
    const expected = path.join(venv, 'share', 'jupyter', 'kernels', 'igrpo-ts');
    // a plotly.js an earlier install left there (a notebook saved then names it)
    fs.mkdirSync(expected, { recursive: true });
    fs.writeFileSync(path.join(expected, 'plotly-1.0.0.min.js'), 'old');
    const dir = installKernel({ python });
    assert.equal(fs.realpathSync(dir), fs.realpathSync(expected));
    const bundle = fs.readFileSync(path.join(dir, 'plotly.min.js'));
    assert.ok(bundle.length > 1_000_000);
    assert.ok(fs.readFileSync(path.join(dir, 'plotly-1.0.0.min.js')).equals(bundle), 'the old file name now serves the installed plotly.js');
    assert.ok(fs.readdirSync(dir).some((f) => /^plotly-\d+\.\d+\.\d+\.min\.js$/.test(f) && f !== 'plotly-1.0.0.min.js'));
  } finally {
    fs.rmSync(venv, { recursive: true, force: true });
  }
});

// Interrupts while the kernel loads TypeScript and tslab (seconds): Node's default SIGINT action killed it.
const STARTUP_PY = String.raw`
import time
from jupyter_client.manager import KernelManager
km = KernelManager(kernel_name='igrpo-ts'); km.start_kernel()
try:
    for wait in (0.3, 0.7, 1.0):
        time.sleep(wait); km.interrupt_kernel()
    kc = km.client(); kc.start_channels(); kc.wait_for_ready(timeout=120)
    r = kc.execute_interactive('console.log(6 * 7)', timeout=60)
    print('RESULT', km.is_alive(), r['content']['status'])
    kc.stop_channels()
finally:
    km.shutdown_kernel(now=True)
`;

test('an interrupt during start-up does not kill the kernel', { timeout: 200_000 }, () => {
  const r = spawnSync(runner.python, ['-c', STARTUP_PY], { env: { ...process.env, JUPYTER_PATH: path.join(runner.prefix, 'share', 'jupyter') }, encoding: 'utf8', timeout: 180_000 });
  assert.match(r.stdout, /^42\nRESULT True ok$/m, `${r.stdout}\n${r.stderr.slice(-2000)}`);
});
