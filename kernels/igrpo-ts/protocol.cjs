// The kernel's side of the Jupyter protocol, where tslab 1.0.22 falls short of what frontends and nbconvert expect:
//  - execute_input with the execution count (nbconvert sets a cell's count from it: without it an executed notebook
//    shows "In [ ]");
//  - a failed cell answers with ename/evalue/traceback and an `error` output (not an empty reply plus text on
//    stderr), its traceback mapped to cell and src/*.ts lines (stack.cjs);
//  - after a failing cell the requests already queued are aborted, unless it said `stop_on_error: false` (nbconvert
//    --allow-errors: the cells after a failing one still run); tslab aborted every request arriving within 200 ms;
//  - Kernel → Interrupt (SIGINT) requests a cooperative interrupt (src/util/interrupt.ts): library loops stop at their
//    next interrupt point and the cell says so; only if the cell does not stop within a grace period does the kernel
//    fall back to tslab's behaviour (stop waiting for the cell) and say that it may go on in the background.
'use strict';
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const stack = require('./stack.cjs');

const INTERRUPT = Symbol.for('igrpo-ts.interrupt'); // shared with src/util/interrupt.ts
const interruptState = () => (globalThis[INTERRUPT] ??= { requested: false });
const GRACE_MS = Number(process.env.IGRPO_KERNEL_INTERRUPT_GRACE_MS ?? 5000);

const CELL_PREFIXES = ['(async function(exports, require) { ', '(function(exports, require) { '];

function startKernel({ root, tslabDir, configPath }) {
  const kernelDir = __dirname;
  const dist = path.join(tslabDir, 'dist');
  const { createConverter } = require(path.join(dist, 'converter.js'));
  const { createExecutor } = require(path.join(dist, 'executor.js'));
  const jupyter = require(path.join(dist, 'jupyter.js'));
  const { TaskCanceledError } = require(path.join(dist, 'util.js'));

  // --- where code runs: remember each compiled cell and src/ module for mapping its stack frames
  let running = null; // { count, write(name, text) } while a cell runs
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    stack.register(filename, content);
    return compile.call(this, content, filename);
  };
  const runInThisContext = vm.runInThisContext;
  vm.runInThisContext = function (code, options) {
    const prefix = typeof code === 'string' ? CELL_PREFIXES.find((p) => code.startsWith(p)) : undefined;
    if (prefix && running) {
      const filename = `igrpo-cell-${running.count}`;
      // lineOffset 1: tslab compiles the cell as "export {};\n" + your code
      stack.register(filename, code, { wrapped: true, label: `cell [${running.count}]`, prefixColumns: prefix.length, lineOffset: 1 });
      options = { ...(typeof options === 'object' ? options : {}), filename };
    }
    return runInThisContext.call(this, code, options);
  };

  // --- declarations visible to later cells. tslab keeps a cell's declarations only when the cell succeeds, so after
  // `const trainer = …; await trainer.run()` is interrupted (or throws) `trainer` exists at run time but the next cell
  // fails to compile ("Cannot find name 'trainer'"). As in Python, a cell that ran keeps what it declared: we pass
  // the converter our own record of the declarations, updated when a cell compiled and ran, failing or not.
  const decls = { current: '', pending: null };
  const keepingDecls = (c) => ({
    ...c,
    convert(_prev, src) {
      const r = c.convert(decls.current, src);
      decls.pending = r.diagnostics && r.diagnostics.length ? null : (r.declOutput ?? '');
      return r;
    },
    inspect: (_prev, src, pos) => c.inspect(decls.current, src, pos),
    complete: (_prev, src, pos) => c.complete(decls.current, src, pos),
  });

  // --- the executor, with errors captured for the reply instead of printed
  let lastError = null;
  const convs = {
    _node: null,
    _browser: null,
    get node() {
      return (this._node ??= keepingDecls(createConverter({ isJS: false, isBrowser: false })));
    },
    get browser() {
      return (this._browser ??= keepingDecls(createConverter({ isJS: false, isBrowser: true })));
    },
    close() {
      this._node?.close();
      this._browser?.close();
    },
  };
  const executor = createExecutor(process.cwd(), convs, {
    log: console.log,
    error: (...args) => {
      if (args.length === 1 && (args[0] instanceof Error || (args[0] && typeof args[0] === 'object' && 'stack' in args[0]))) {
        lastError = args[0];
        return;
      }
      // type errors: "file line:col - message", printed as tslab does; the first one also names the failure
      console.error(...args);
      if (!lastError && typeof args[0] === 'string' && args[0].startsWith('%s%d:%d')) {
        lastError = { compile: true, message: `${args[1] || ''}${args[2]}:${args[3]} - ${typeof args[4] === 'string' ? args[4] : JSON.stringify(args[4])}` };
      }
    },
  });
  convs.node; // warm the compiler before the first cell

  function errorContent(err) {
    if (err && err.compile) return { ename: 'TSError', evalue: err.message, traceback: [] };
    if (err && err.name === 'KeyboardInterrupt') {
      return {
        ename: 'KeyboardInterrupt',
        evalue: err.message,
        traceback: [
          `KeyboardInterrupt: ${err.message}`,
          'Stopped at an interrupt point, so objects are consistent: an interrupted Trainer step made no update',
          '(trainer.run() or trainer.step() continues from the last finished step).',
        ],
      };
    }
    const ename = (err && err.name) || 'Error';
    const evalue = err && err.message !== undefined ? String(err.message) : String(err);
    let traceback = err && typeof err === 'object' ? stack.mapStack(err, { root, kernelDir, tslabDir }) : [`${ename}: ${evalue}`];
    // Node prefixes the stack of an error thrown in vm code with "file:line", the source line and a caret; the
    // traceback starts at "Name: message".
    const head = traceback.findIndex((l) => l.startsWith(`${ename}:`) || l === ename);
    if (head > 0) traceback = traceback.slice(head);
    traceback = traceback.filter((l, i) => i === 0 || l !== traceback[i - 1]);
    return { ename, evalue, traceback };
  }

  // Jupyter's contract on error: the execute requests already queued when a cell fails are aborted (unless it said
  // stop_on_error: false, as nbconvert --allow-errors does); requests sent later run. A request remembers the
  // generation it arrived in; a failure starts a new one.
  let generation = 0;
  const proto = jupyter.JupyterHandlerImpl.prototype;
  proto.handleExecute = async function (req, writeStream, writeDisplayData, send) {
    const arrived = generation;
    let count = null;
    try {
      count = await this.execQueue.add(async () => {
        if (arrived !== generation) return { aborted: true };
        process.stdout.write = this.createWriteToIopub('stdout', writeStream);
        process.stderr.write = this.createWriteToIopub('stderr', writeStream);
        jupyter.lastWriteDisplayData = writeDisplayData;
        const n = ++this.execCount;
        send?.('execute_input', { code: req.code, execution_count: n });
        interruptState().requested = false; // an interrupt of an earlier cell does not stop this one
        lastError = null;
        decls.pending = null;
        running = { count: n, write: writeStream };
        // The task resolves even when the cell fails: a rejected task would make tslab's TaskQueue cancel every
        // later request, also those sent after the failure.
        try {
          const ok = await this.executor.execute(req.code);
          const failure = ok ? null : (lastError ?? { name: 'Error', message: 'the cell failed', stack: '' });
          if (decls.pending !== null && !(failure && failure.compile)) decls.current = decls.pending;
          return { count: n, failure };
        } catch (e) {
          return { count: n, failure: e };
        } finally {
          running = null;
        }
      });
    } catch (e) {
      if (e instanceof TaskCanceledError) return { status: 'aborted', execution_count: null };
      count = { count: null, failure: e };
    }
    if (count.aborted) return { status: 'aborted', execution_count: null };
    if (!count.failure) return { status: 'ok', execution_count: count.count, payload: [], user_expressions: {} };
    const content = errorContent(count.failure);
    send?.('error', { ...content, execution_count: count.count });
    if (req.stop_on_error !== false) generation++;
    return { status: 'error', execution_count: count.count, ...content };
  };

  jupyter.ZmqServer.prototype.handleExecute = async function (sock, msg) {
    const send = (type, content) => {
      const m = msg.createReply();
      m.header.msg_type = type;
      m.content = content;
      m.signAndSend(this.connInfo.key, this.iopub);
    };
    const writeStream = (name, text) => send('stream', { name, text });
    const writeDisplayData = (data, update) => send(update ? 'update_display_data' : 'display_data', data);
    const reply = msg.createReply();
    reply.header.msg_type = 'execute_reply';
    reply.content = await this.handler.handleExecute(msg.content, writeStream, writeDisplayData, send);
    reply.signAndSend(this.connInfo.key, sock);
  };

  const server = new jupyter.ZmqServer(new jupyter.JupyterHandlerImpl(executor, false), configPath);
  process.on('SIGINT', () => {
    interruptState().requested = true;
    const cell = running;
    if (!cell) return;
    setTimeout(() => {
      if (running !== cell) return;
      cell.write('stderr', `\nThe cell did not reach an interrupt point within ${GRACE_MS / 1000} s: no longer waiting for it, but its code may go on running in the background (restart the kernel to be sure).\n`);
      executor.interrupt();
    }, GRACE_MS).unref();
  });
  process.on('uncaughtException', (err) => console.error('UncaughtException:', err));
  process.on('unhandledRejection', (reason) => console.error('UnhandledPromiseRejection:', reason));
  server.init();
  return server;
}

module.exports = { startKernel };
