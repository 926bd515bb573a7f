// The kernel's side of the Jupyter protocol, where tslab 1.0.22 falls short of what JupyterLab 4, VS Code, the classic
// Notebook and nbconvert expect (jupyter_client docs/messaging.rst is the reference; Debian's ipykernel the behaviour):
//  - execute_input with the execution count (nbconvert sets a cell's count from it: without it an executed notebook
//    shows "In [ ]");
//  - a failed cell answers with ename/evalue/traceback and an `error` output (not an empty reply plus text on
//    stderr), its traceback mapped to cell and src/*.ts lines (stack.cjs). The IOPub `error` carries no
//    execution_count: the spec omits it there, and nbformat 4.5's error output allows no extra field, so JupyterLab
//    (which saves the message content as the output) would write a notebook that fails validation;
//  - after a failing cell the requests already queued are aborted, unless it said `stop_on_error: false` (nbconvert
//    --allow-errors: the cells after a failing one still run); tslab aborted every request arriving within 200 ms;
//  - shell requests are handled one at a time, each between its own busy and idle status (as ipykernel does). tslab
//    published busy/idle per request as each *arrived*: with Run All every request arrives at once, so the status
//    read Idle while the rest of the notebook ran;
//  - requests tslab did not know: history_request (an empty history), comm_info_request (a comm_info_reply, tslab sent
//    a complete_reply), comm_open (closed at once with comm_close, as the spec says for an unknown target),
//    interrupt_request (interrupt_mode "message"); shutdown_request answers with its `restart` and a status and the
//    process exits. Anything else is logged to the kernel's own log (its stderr, which the Jupyter server shows),
//    never printed into the running cell as tslab's console.warn did;
//  - stream output is batched (one IOPub message per stream per 50 ms, as ipykernel batches per flush interval): one
//    message per console.log can exceed jupyter_server's iopub_msg_rate_limit (1000 messages/s) in a chatty loop;
//  - Kernel → Interrupt stops every cell the same way, at its next interrupt point (interrupt.cjs,
//    src/util/interrupt.ts); only if an awaiting cell does not stop within a grace period does the kernel fall back to
//    tslab's behaviour (stop waiting for the cell) and say that it may go on in the background.
'use strict';
const crypto = require('node:crypto');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const stack = require('./stack.cjs');
const { installInterrupts } = require('./interrupt.cjs');

const GRACE_MS = Number(process.env.IGRPO_KERNEL_INTERRUPT_GRACE_MS ?? 5000);
/** How long stream output collects before it goes out as one message (ipykernel's OutStream flushes every 0.2 s). */
const STREAM_FLUSH_MS = Number(process.env.IGRPO_KERNEL_STREAM_FLUSH_MS ?? 50);
const STREAM_MAX_CHARS = 64 * 1024;
const PROTOCOL_VERSION = '5.3';

const CELL_PREFIXES = ['(async function(exports, require) { ', '(function(exports, require) { '];
const DELIM = Buffer.from('<IDS|MSG>');

/**
 * One message of the wire protocol (jupyter_client docs/messaging.rst, "The Wire Protocol"). tslab's ZmqMessage is
 * not exported; this one has the same createReply()/signAndSend() for tslab's handlers, and a send() that returns
 * the socket's promise (shutdown waits for its reply to leave before the process exits).
 */
class Message {
  static parse(key, frames) {
    const at = frames.findIndex((f) => Buffer.isBuffer(f) && f.equals(DELIM));
    if (at < 0) throw new Error('message missing delimiter');
    const m = new Message();
    m.identity = frames.slice(0, at);
    const signature = frames[at + 1].toString();
    const parts = frames.slice(at + 2);
    if (key) {
      const h = crypto.createHmac('sha256', key);
      for (const p of parts.slice(0, 4)) h.update(p);
      if (h.digest('hex') !== signature) throw new Error('invalid message signature');
    }
    [m.header, m.parent, m.metadata, m.content] = parts.slice(0, 4).map((p) => JSON.parse(p.toString()));
    m.buffers = parts.slice(4);
    return m;
  }

  createReply(type) {
    const r = new Message();
    r.identity = this.identity;
    r.header = {
      msg_id: crypto.randomBytes(16).toString('hex'),
      msg_type: type ?? this.header.msg_type,
      session: this.header.session,
      username: this.header.username,
      date: new Date().toISOString(),
      version: PROTOCOL_VERSION,
    };
    r.parent = this.header;
    r.metadata = {};
    r.content = {};
    r.buffers = [];
    return r;
  }

  send(key, sock) {
    const bodies = [this.header, this.parent, this.metadata, this.content].map((x) => JSON.stringify(x));
    const h = crypto.createHmac('sha256', key);
    for (const b of bodies) h.update(b);
    return sock.send([...this.identity, DELIM, h.digest('hex'), ...bodies]);
  }

  signAndSend(key, sock) {
    this.send(key, sock).catch(() => {});
  }
}

/**
 * Collects a cell's stream writes and sends them as few messages: per stream name, after STREAM_FLUSH_MS, or at
 * once when another output (display, error) or the reply must follow them in order.
 */
function streamBatcher(emit) {
  let name = null;
  let text = '';
  let timer = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (text) emit(name, text);
    text = '';
  };
  return {
    write(n, t) {
      if (name !== n) flush();
      name = n;
      text += t;
      if (text.length >= STREAM_MAX_CHARS) flush();
      else if (!timer) timer = setTimeout(flush, STREAM_FLUSH_MS);
    },
    flush,
  };
}

function startKernel({ root, tslabDir, configPath }) {
  const kernelDir = __dirname;
  const dist = path.join(tslabDir, 'dist');
  const { createConverter } = require(path.join(dist, 'converter.js'));
  const { createExecutor } = require(path.join(dist, 'executor.js'));
  const jupyter = require(path.join(dist, 'jupyter.js'));
  const tsVersion = require(require.resolve('@tslab/typescript-for-tslab', { paths: [dist] })).version;
  const interrupts = installInterrupts();
  const interruptState = () => interrupts.state;

  // The kernel's own log: its stderr as it was at start-up (tslab points process.stderr.write at the running cell).
  const stderrWrite = process.stderr.write.bind(process.stderr);
  const log = (text) => stderrWrite(`[igrpo-ts kernel] ${text}\n`);

  // --- where code runs: remember each compiled cell and src/ module for mapping its stack frames
  let running = null; // { count, write(name, text) } while a cell runs
  const sources = new Map(); // execution count → the cell's source, for traceback lines
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
      stack.register(filename, code, { wrapped: true, cell: running.count, prefixColumns: prefix.length, lineOffset: 1 });
      // breakOnSigint off: every cell stops at its interrupt points instead of being terminated mid-statement
      // (interrupt.cjs says why).
      options = { ...(typeof options === 'object' ? options : {}), filename, breakOnSigint: false };
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
    let traceback = err && typeof err === 'object' ? stack.mapStack(err, { root, kernelDir, tslabDir, cellSource: (n) => sources.get(n) }) : [`${ename}: ${evalue}`];
    // Node prefixes the stack of an error thrown in vm code with "file:line", the source line and a caret; the
    // traceback starts at "Name: message".
    const head = traceback.findIndex((l) => l.startsWith(`${ename}:`) || l === ename);
    if (head > 0) traceback = traceback.slice(head);
    traceback = traceback.filter((l, i) => i === 0 || l !== traceback[i - 1]);
    return { ename, evalue, traceback };
  }

  // Jupyter's contract on error: the execute requests already queued when a cell fails are aborted (unless it said
  // stop_on_error: false, as nbconvert --allow-errors does); requests sent later run. A request remembers the
  // generation it arrived in (handleShellMessage below); a failure starts a new one.
  let generation = 0;
  const proto = jupyter.JupyterHandlerImpl.prototype;
  proto.handleExecute = async function (req, writeStream, writeDisplayData, send, arrived = generation) {
    if (arrived !== generation) return { status: 'aborted', execution_count: null };
    process.stdout.write = this.createWriteToIopub('stdout', writeStream);
    process.stderr.write = this.createWriteToIopub('stderr', writeStream);
    jupyter.lastWriteDisplayData = writeDisplayData;
    const n = ++this.execCount;
    sources.set(n, req.code);
    send?.('execute_input', { code: req.code, execution_count: n });
    interruptState().requested = false; // an interrupt of an earlier cell does not stop this one
    lastError = null;
    decls.pending = null;
    running = { count: n, write: writeStream, requests: interrupts.requests() };
    let failure = null;
    try {
      const ok = await this.executor.execute(req.code);
      failure = ok ? null : (lastError ?? { name: 'Error', message: 'the cell failed', stack: '' });
      if (decls.pending !== null && !(failure && failure.compile)) decls.current = decls.pending;
    } catch (e) {
      failure = e;
    } finally {
      running = null;
    }
    if (!failure) return { status: 'ok', execution_count: n, payload: [], user_expressions: {} };
    const content = errorContent(failure);
    // IOPub `error`: ename, evalue, traceback only (messaging.rst: "the same as the execute_reply ... minus
    // status and execution_count"); nbformat 4.5's error output schema has additionalProperties: false.
    send?.('error', content);
    if (req.stop_on_error !== false) generation++;
    return { status: 'error', execution_count: n, ...content };
  };

  proto.handleKernel = function () {
    return {
      status: 'ok',
      protocol_version: PROTOCOL_VERSION,
      implementation: 'igrpo-ts',
      implementation_version: require(path.join(root, 'package.json')).version,
      language_info: {
        name: 'typescript',
        // the TypeScript that compiles the cells (tslab's own), not tslab's hard-coded "3.7.2"
        version: tsVersion,
        mimetype: 'text/typescript',
        file_extension: '.ts',
        // JupyterLab 4 looks the mode up by name, then by mime (packages/codemirror/src/language.ts findBest); the
        // classic Notebook (base/js/utils.js requireCodeMirrorMode) finds it by mime and hands the object to
        // CodeMirror 5, which resolves a registered mime in `name` ("application/typescript" → javascript with
        // typescript: true). tslab's {name: "javascript", typescript: true} made JupyterLab 4 highlight JavaScript.
        codemirror_mode: { name: 'application/typescript', mime: 'application/typescript' },
      },
      banner: `iGRPO TypeScript kernel (tslab, TypeScript ${tsVersion}, Node ${process.version})`,
      help_links: [],
    };
  };

  // --- the server: message dispatch
  const Server = jupyter.ZmqServer.prototype;
  let shellQueue = Promise.resolve();
  let shellPending = 0; // requests queued or running on the shell channel

  Server.publish = function (parent, type, content) {
    const m = parent.createReply(type);
    m.content = content;
    return m.send(this.connInfo.key, this.iopub).catch(() => {});
  };
  Server.publishStatus = function (status, parent) {
    this.publish(parent, 'status', { execution_state: status });
  };
  Server.reply = function (sock, parent, type, content) {
    const m = parent.createReply(type);
    m.content = content;
    return m.send(this.connInfo.key, sock).catch((e) => log(`could not send ${type}: ${e && e.message}`));
  };

  Server.handleShellMessage = function (sock, ...frames) {
    let msg;
    try {
      msg = Message.parse(this.connInfo.key, frames);
    } catch (e) {
      log(`dropped a message: ${e && e.message}`);
      return;
    }
    if (sock === this.control) {
      this.handleControl(sock, msg);
      return;
    }
    msg.arrived = generation;
    shellPending++;
    shellQueue = shellQueue
      .then(async () => {
        this.publishStatus('busy', msg);
        try {
          await this.dispatchShell(sock, msg);
        } catch (e) {
          log(`${msg.header.msg_type} failed: ${(e && e.stack) || e}`);
        } finally {
          shellPending--;
          this.publishStatus('idle', msg);
        }
      })
      .catch(() => {});
  };

  Server.dispatchShell = async function (sock, msg) {
    const type = msg.header.msg_type;
    switch (type) {
      case 'execute_request':
        return this.handleExecute(sock, msg);
      case 'kernel_info_request':
        return this.reply(sock, msg, 'kernel_info_reply', this.handler.handleKernel());
      case 'is_complete_request':
        return this.reply(sock, msg, 'is_complete_reply', this.handler.handleIsComplete(msg.content));
      case 'inspect_request':
        return this.reply(sock, msg, 'inspect_reply', this.handler.handleInspect(msg.content));
      case 'complete_request':
        return this.reply(sock, msg, 'complete_reply', this.handler.handleComplete(msg.content));
      case 'history_request':
        // JupyterLab's console asks on start; the kernel keeps no history (the spec allows an empty list)
        return this.reply(sock, msg, 'history_reply', { status: 'ok', history: [] });
      case 'comm_info_request':
        // ipywidgets' manager asks on every (re)connect; no comms are ever open here
        return this.reply(sock, msg, 'comm_info_reply', { status: 'ok', comms: {} });
      case 'comm_open':
        // messaging.rst (Custom Messages): "If the target_name key is not found on the receiving side, then it should
        // immediately reply with a comm_close message to avoid an inconsistent state."
        log(`comm_open for target '${msg.content.target_name}': no such target, closing comm ${msg.content.comm_id}`);
        return this.publish(msg, 'comm_close', { comm_id: msg.content.comm_id, data: {} });
      case 'comm_msg':
      case 'comm_close':
        log(`${type} for unknown comm ${msg.content.comm_id}: ignored`);
        return undefined;
      case 'shutdown_request':
      case 'interrupt_request':
        return this.handleControl(sock, msg);
      default:
        log(`no handler for ${type}: ignored`);
        return undefined;
    }
  };

  Server.handleControl = function (sock, msg) {
    const type = msg.header.msg_type;
    // Status messages on control only while no shell request runs: an idle here would tell JupyterLab (which shows
    // the last status it got) that the kernel is idle while a cell still runs.
    const quiet = shellPending > 0;
    if (!quiet) this.publishStatus('busy', msg);
    const done = () => {
      if (!quiet) this.publishStatus('idle', msg);
    };
    switch (type) {
      case 'shutdown_request': {
        const content = { status: 'ok', restart: !!msg.content.restart };
        // the reply on control, and (as ipykernel does) the same content on IOPub for every frontend
        Promise.allSettled([this.reply(sock, msg, 'shutdown_reply', content), this.publish(msg, 'shutdown_reply', content)]).then(() => {
          done();
          setTimeout(() => {
            try {
              this.close();
            } finally {
              process.exit(0);
            }
          }, 100);
        });
        return;
      }
      case 'interrupt_request':
        interrupts.interrupt('message');
        this.reply(sock, msg, 'interrupt_reply', { status: 'ok' });
        break;
      case 'kernel_info_request':
        this.reply(sock, msg, 'kernel_info_reply', this.handler.handleKernel());
        break;
      default:
        log(`no handler for ${type} on the control channel: ignored`);
    }
    done();
  };

  Server.handleExecute = async function (sock, msg) {
    const emit = (type, content) => this.publish(msg, type, content);
    const out = streamBatcher((name, text) => emit('stream', { name, text }));
    const send = (type, content) => {
      out.flush(); // outputs stay in the order the cell made them
      emit(type, content);
    };
    const writeStream = (name, text) => out.write(name, text);
    const writeDisplayData = (data, update) => send(update ? 'update_display_data' : 'display_data', data);
    const content = await this.handler.handleExecute(msg.content, writeStream, writeDisplayData, send, msg.arrived);
    out.flush();
    await this.reply(sock, msg, 'execute_reply', content);
  };

  const server = new jupyter.ZmqServer(new jupyter.JupyterHandlerImpl(executor, false), configPath);
  interrupts.onInterrupt(() => {
    const cell = running;
    // no cell, or an interrupt that came before this cell began (its handler ran late): nothing to wait for
    if (!cell || interrupts.requests() === cell.requests) return;
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

module.exports = { startKernel, Message, streamBatcher };
