// Cooperative interruption for long-running loops (training, sampling, SFT, evaluation).
//
// Why: JavaScript cannot be stopped from outside while it runs. Jupyter's Kernel → Interrupt sends the kernel a
// SIGINT, which Node delivers only when the event loop gets a turn; a training step that never yields (tfjs on the
// CPU resolves its promises as microtasks) never gives it one, and tslab's own interrupt merely stops *waiting* for
// the cell while the loop runs on in the background. So loops call `interruptPoint()` at safe places: it yields to
// the event loop (a macrotask, so signals and timers run) and throws InterruptedError once an interrupt was requested.
//
// The flag lives on globalThis under a registered symbol, so the kernel (kernels/igrpo-ts/launch.cjs) and every copy
// of this module (tslab compiles src/ itself; tsx loads it separately) share it. Outside a kernel nothing sets it,
// unless requestInterrupt() is called (tests, or a CLI's own SIGINT handler).

const KEY = Symbol.for('igrpo-ts.interrupt');

interface InterruptState {
  /** Set by the kernel on SIGINT (interrupt_request), cleared when the next cell starts. */
  requested: boolean;
}

function state(): InterruptState {
  const g = globalThis as unknown as Record<symbol, InterruptState | undefined>;
  let s = g[KEY];
  if (!s) {
    s = { requested: false };
    g[KEY] = s;
  }
  return s;
}

/** Thrown at an interrupt point after an interrupt was requested. */
export class InterruptedError extends Error {
  constructor(where: string) {
    super(`interrupted (Kernel → Interrupt) ${where}`);
    this.name = 'KeyboardInterrupt';
  }
}

export function requestInterrupt(): void {
  state().requested = true;
}

export function clearInterrupt(): void {
  state().requested = false;
}

export function interruptRequested(): boolean {
  return state().requested;
}

/** Throws InterruptedError if an interrupt was requested (no yield: for places where state must not change). */
export function throwIfInterrupted(where = ''): void {
  if (state().requested) throw new InterruptedError(where);
}

/**
 * Lets the event loop run (signals, timers, I/O) — setImmediate, i.e. after pending I/O, not a timer delay.
 * Browsers have no setImmediate: a zero timeout there, which also lets the page repaint between steps.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

/** A safe place to stop: yield to the event loop, then throw InterruptedError if an interrupt was requested. */
export async function interruptPoint(where = ''): Promise<void> {
  await yieldToEventLoop();
  throwIfInterrupted(where);
}
