// Error stacks that point at what you wrote: cell lines ("Cell In[3], line 2", as IPython writes them) and src/*.ts lines, without the
// kernel's own frames.
//
// Why: tslab runs each cell as `vm` code ("evalmachine.<anonymous>") compiled in two passes (TypeScript → ES module
// JS with tslab's rewrites → CommonJS), and runs src/ from virtual .js files that exist nowhere on disk. Both passes
// go through `ts.transpileModule` for the second step, which the launcher routes here: the first pass's output
// carries an inline source map (the cell: TypeScript's inlineSourceMap; src/: esbuild's), the second pass is asked
// for its map, and the pair (CommonJS → ES module JS → .ts) is kept by output text. When the code is compiled
// (Module#_compile for src/, vm.runInThisContext for a cell) the pair is filed under the file name it runs as, and
// a stack is mapped frame by frame through both maps.
'use strict';
const path = require('node:path');
const { SourceMap } = require('node:module');

const INLINE_MAP = /\n?\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/;
const ANY_MAP_COMMENT = /\n?\/\/# sourceMappingURL=\S*\s*$/;

/** output text → { outer: SourceMap (CommonJS → intermediate), inner: SourceMap (intermediate → source) } */
const byOutput = new Map();
/** file name as it appears in stacks → { outer, inner, label, lineOffset } */
const byFile = new Map();

/** Splits an inline source map off JS text: { code, map } (map null when there is none). */
function takeInlineMap(js) {
  const m = INLINE_MAP.exec(js);
  if (!m) return { code: js, map: null };
  return { code: js.slice(0, m.index), map: JSON.parse(Buffer.from(m[1], 'base64').toString('utf8')) };
}

/**
 * Wraps ts.transpileModule: when the input carries an inline map, also asks for the output's map and remembers the
 * pair under the output text. The output text is otherwise what TypeScript would give (map comments removed).
 */
function wrapTranspile(transpileModule) {
  return function (input, options, ...rest) {
    const { code, map } = typeof input === 'string' ? takeInlineMap(input) : { code: input, map: null };
    if (!map) return transpileModule.call(this, input, options, ...rest);
    const compilerOptions = { ...(options?.compilerOptions ?? {}), sourceMap: true, inlineSourceMap: false, inlineSources: false };
    const out = transpileModule.call(this, code, { ...options, compilerOptions }, ...rest);
    const outputText = out.outputText.replace(ANY_MAP_COMMENT, '\n');
    try {
      byOutput.set(outputText, { outer: new SourceMap(JSON.parse(out.sourceMapText)), inner: new SourceMap(map), sources: map.sources });
    } catch {
      // a map we cannot read only costs the mapping
    }
    return { ...out, outputText, sourceMapText: undefined };
  };
}

/** Files the maps of `code` (or of the output it contains, for a wrapped cell) under `file`. */
function register(file, code, opts = {}) {
  let maps = byOutput.get(code);
  if (!maps && opts.wrapped) {
    for (const [text, m] of byOutput) if (code.includes(text)) maps = m;
  }
  if (maps) byFile.set(file, { ...maps, label: opts.label, cell: opts.cell, prefixColumns: opts.prefixColumns ?? 0, lineOffset: opts.lineOffset ?? 0 });
  return !!maps;
}

/** One position (1-based line, 1-based column) in `file` → { source, line, column } in what was written, or null. */
function mapPosition(file, line, column) {
  const f = byFile.get(file);
  if (!f) return null;
  const col0 = line === 1 ? Math.max(0, column - 1 - f.prefixColumns) : column - 1;
  const mid = f.outer.findEntry(line - 1, col0);
  if (!mid || mid.originalLine === undefined) return null;
  const src = f.inner.findEntry(mid.originalLine, mid.originalColumn);
  if (!src || src.originalLine === undefined) return null;
  return { source: src.originalSource, line: src.originalLine + 1 - f.lineOffset, column: src.originalColumn + 1, label: f.label, cell: f.cell };
}

/** Frames of the kernel itself, tslab, the vm wrapper and Node's internals: not what the user wrote. */
function isKernelFrame(location, kernelDir, tslabDir) {
  return (
    location.startsWith('node:') ||
    location.includes('(node:') ||
    location.startsWith(kernelDir) ||
    location.startsWith(tslabDir) ||
    location.includes('/node_modules/tslab/') ||
    location.includes('/node_modules/@tslab/')
  );
}

/**
 * A frame in a cell, in IPython 8's form ("Cell In[3], line 2, in inner" and the line itself, with IPython's colours):
 * VS Code turns exactly this form into a link to the cell's line (vscode-jupyter src/notebooks/outputs/
 * tracebackFormatter.ts matches /Cell.*?\[.*32mIn\s*\[(\d+)\]\,\s+line\s+.../ and links the "----> 2" number);
 * JupyterLab and the classic Notebook render the colours.
 */
function cellFrame(count, line, fn, source) {
  const text = source === undefined ? undefined : source.split('\n')[line - 1];
  const head = `Cell \u001b[0;32mIn[${count}], line ${line}\u001b[0m${fn ? `, in \u001b[0;36m${fn}\u001b[0m` : ''}`;
  return `${head}\n\u001b[0;32m----> ${line}\u001b[0m ${text === undefined ? '' : text}\n`;
}

const FRAME = /^(\s*at )(?:(.*?) \()?((?:[^()\s]|\s(?!\())+?):(\d+):(\d+)\)?$/;

/**
 * The stack of `err` with cell and src/ frames mapped to what was written and the kernel's own frames dropped:
 * lines for a Jupyter traceback. `root` makes src/ paths relative.
 */
function mapStack(err, { root, kernelDir, tslabDir, cellSource }) {
  const stack = typeof err?.stack === 'string' ? err.stack : String(err);
  const lines = stack.split('\n');
  const out = [];
  for (const line of lines) {
    const m = FRAME.exec(line);
    if (!m) {
      if (!/^\s*at /.test(line)) out.push(line);
      continue;
    }
    const [, at, fn, location, l, c] = m;
    const mapped = mapPosition(location, Number(l), Number(c));
    if (mapped && mapped.cell !== undefined) {
      out.push(cellFrame(mapped.cell, mapped.line, fn && fn !== 'eval' ? fn : '', cellSource?.(mapped.cell)));
      continue;
    }
    if (mapped) {
      const where = mapped.label ? `${mapped.label}, line ${mapped.line}` : `${path.relative(root, mapped.source.replace(/^file:\/\//, ''))}:${mapped.line}:${mapped.column}`;
      out.push(`${at}${fn && fn !== 'eval' ? `${fn} (${where})` : where}`);
      continue;
    }
    if (location.startsWith('evalmachine.<anonymous>') || byFile.has(location)) {
      // an unmapped cell frame (the wrapper): not worth showing
      continue;
    }
    if (isKernelFrame(location, kernelDir, tslabDir)) continue;
    const shown = location.startsWith(root + path.sep) ? path.relative(root, location) : location;
    out.push(`${at}${fn ? `${fn} (${shown}:${l}:${c})` : `${shown}:${l}:${c}`}`);
  }
  return out;
}

module.exports = { wrapTranspile, register, mapPosition, mapStack, takeInlineMap, cellFrame };
