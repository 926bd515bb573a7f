// Kernel → Interrupt for every cell alike: the request sets a flag that code checks at its interrupt points
// (src/util/interrupt.ts: `interruptPoint()` in async loops, `throwIfInterrupted()` in synchronous ones); nothing is
// killed mid-statement.
//
// Why not tslab's way: tslab runs a cell without top-level `await` with vm's `breakOnSigint`, which terminates the
// JavaScript at once — `finally` blocks do not run, so a tf.tidy() or a trainer step is left half done (tfjs's scope
// stack and the trainer's state with it) — while a cell with `await` ignores SIGINT until the event loop gets a turn:
// a long synchronous stretch after an `await` could not be interrupted at all. Here:
//  - the flag lives in a SharedArrayBuffer; a watcher thread listens for SIGINT itself (libuv delivers a signal to every
//    event loop that watches it) and sets the flag *while the main thread is still running synchronous code*, so a
//    synchronous loop's throwIfInterrupted() sees it at its next check; the main thread's own SIGINT handler (which runs
//    when its event loop gets a turn) sets it too, and then runs the kernel's handler (grace period, messages);
//  - the SIGINT handler is installed before anything heavy loads: a signal during start-up (TypeScript and tslab take a
//    few seconds to load) no longer kills the kernel with Node's default action;
//  - an interrupt_request message (interrupt_mode "message": Windows, where Jupyter does not send SIGINT) sets it too.
// Code with no interrupt point cannot be stopped this way (JavaScript has no safe asynchronous exception); the kernel
// says so after a grace period, and Restart is the way out.
'use strict';
const { Worker } = require('node:worker_threads');

const KEY = Symbol.for('igrpo-ts.interrupt'); // shared with src/util/interrupt.ts
const WATCHER = `
const { workerData } = require('node:worker_threads');
// process.binding('signal_wrap') is what Node's own process.on('SIGINT') uses; Node's public API offers no signal
// events in worker threads. Its deprecation notice would land in a running cell's output: silence it here only.
process.noDeprecation = true;
const flag = new Int32Array(workerData.sab);
try {
  const { Signal } = process.binding('signal_wrap');
  const watcher = new Signal();
  watcher.onsignal = () => {
    Atomics.add(flag, 1, 1);
    Atomics.store(flag, 0, 1);
  };
  if (watcher.start(workerData.signum) === 0) Atomics.store(flag, 2, 1);
  else watcher.close();
} catch {
  // no watcher thread: the main thread's handler still sets the flag when its event loop gets a turn
}
`;

let installed = null;

/**
 * Installs the shared interrupt state (globalThis[Symbol.for('igrpo-ts.interrupt')].requested backed by shared
 * memory), the watcher thread and an early SIGINT handler. Returns { onInterrupt(fn), watching }.
 */
function installInterrupts() {
  if (installed) return installed;
  // [0] the flag, [1] how many interrupts were requested so far, [2] 1 once the watcher thread listens
  const sab = new SharedArrayBuffer(12);
  const flag = new Int32Array(sab);
  const state = {};
  Object.defineProperty(state, 'requested', {
    enumerable: true,
    get: () => Atomics.load(flag, 0) === 1,
    set: (v) => Atomics.store(flag, 0, v ? 1 : 0),
  });
  globalThis[KEY] = state;
  let handler = null;
  const request = () => {
    Atomics.add(flag, 1, 1);
    state.requested = true;
  };
  const interrupt = (source) => {
    request();
    if (handler) handler(source);
  };
  // The main thread hears the signal only when its event loop gets a turn, possibly after the interrupted cell ended
  // and the next one began (which clears the flag): where the watcher thread already counted it, setting the flag
  // here would interrupt that next cell. So the flag is the watcher's; this handler only reacts.
  process.on('SIGINT', () => {
    if (Atomics.load(flag, 2) !== 1) request();
    if (handler) handler('signal');
  });
  let watching = false;
  const SIGINT = require('node:os').constants.signals.SIGINT;
  if (process.platform !== 'win32' && process.env.IGRPO_KERNEL_INTERRUPT_THREAD !== '0') {
    try {
      const w = new Worker(WATCHER, { eval: true, workerData: { sab, signum: SIGINT }, stdout: true, stderr: true });
      w.unref();
      w.on('error', () => {});
      watching = true;
    } catch {
      watching = false;
    }
  }
  installed = {
    state,
    watching,
    /** The kernel's reaction to an interrupt (after the flag is set): one handler, replaced on each call. */
    onInterrupt(fn) {
      handler = fn;
    },
    /** An interrupt_request (interrupt_mode "message"). */
    interrupt,
    /** How many interrupts were requested so far (a cell remembers the count it started with). */
    requests: () => Atomics.load(flag, 1),
  };
  return installed;
}

module.exports = { installInterrupts, KEY };
