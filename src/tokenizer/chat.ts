// Chat templates as transformers' apply_chat_template renders them (tokenization_utils_base.py and
// utils/chat_template_utils.py): a sandboxed Jinja environment with trim_blocks and lstrip_blocks (which
// @huggingface/jinja always applies), loop controls, transformers' own tojson (no HTML escaping,
// ensure_ascii off, indent/separators/sort_keys), raise_exception and strftime_now; the variables are
// messages, tools, documents, add_generation_prompt, the special-token strings (bos_token, eos_token, …)
// and any extra keyword (enable_thinking, date_string, …). The rendered text is tokenized with
// add_special_tokens=False by the caller (the template writes its own bos).
// Two fixes over @huggingface/jinja 0.5 make the real templates byte-identical to jinja2 (tests): values
// print as Python's str() (True, None, ['a', 1]), and str.strip/lstrip/rstrip honour their argument.
// Known gaps of the library (not used by the Qwen2.5/Qwen3/Llama 3 templates): str.count/find/
// splitlines/isdigit, the sum/wordcount/center/round filters and 'x' * 3 raise a clear error; the
// printf-style `format` filter renders wrongly; tuples from |items print as lists.
import { Environment, Interpreter, Template } from '@huggingface/jinja';

export interface ChatMessage {
  role: string;
  /** A string, or whatever the template expects (a list of content blocks). */
  content: unknown;
  [key: string]: unknown;
}

export type ChatTemplateSource = string | readonly { name: string; template: string }[] | Readonly<Record<string, string>>;

export interface ChatTemplateOptions {
  /** End with the header of an assistant turn, so generation answers (transformers' add_generation_prompt). */
  addGenerationPrompt?: boolean;
  /** Leave the final (assistant) message open, for the model to continue it (transformers' continue_final_message). */
  continueFinalMessage?: boolean;
  tools?: readonly unknown[] | null;
  documents?: readonly unknown[] | null;
  /** Which of a model's named templates ("default", "tool_use", …); chosen as transformers does when absent. */
  templateName?: string;
  /** bos_token, eos_token, … as strings (the tokenizer supplies them). */
  specialTokens?: Readonly<Record<string, string>>;
  /** Further template variables, transformers' **kwargs: enable_thinking, date_string, … (they override specialTokens). */
  kwargs?: Readonly<Record<string, unknown>>;
  /** The clock strftime_now reads (local time, as Python's datetime.now()); for reproducible renders. */
  now?: () => Date;
}

/** What a template's raise_exception(...) raised: `templateMessage` is the template's own text. */
export class ChatTemplateError extends Error {
  constructor(
    readonly templateMessage: string,
    source: string,
  ) {
    super(`${source}: ${templateMessage}`);
    this.name = 'ChatTemplateError';
  }
}

export class ChatTemplate {
  readonly source: string;
  private readonly templates: Map<string, string>;
  private readonly single: boolean;
  private readonly parsed = new Map<string, Template>();

  constructor(template: ChatTemplateSource, opts: { source?: string } = {}) {
    this.source = opts.source ?? 'chat_template';
    if (typeof template === 'string') {
      this.single = true;
      this.templates = new Map([['default', template]]);
    } else if (Array.isArray(template)) {
      this.single = false;
      this.templates = new Map();
      for (const [i, t] of (template as readonly { name: string; template: string }[]).entries()) {
        if (typeof t?.name !== 'string' || typeof t?.template !== 'string') throw new Error(`${this.source}: entry ${i} is not {"name": string, "template": string}`);
        this.templates.set(t.name, t.template);
      }
    } else if (typeof template === 'object' && template !== null) {
      this.single = false;
      this.templates = new Map(Object.entries(template as Record<string, string>));
    } else {
      throw new Error(`${this.source}: expected a string or a list of {"name", "template"}, got ${typeof template}`);
    }
    if (this.templates.size === 0) throw new Error(`${this.source}: no template`);
  }

  /** The named templates ("default" for a single string). */
  names(): string[] {
    return [...this.templates.keys()];
  }

  /** transformers' get_chat_template: a name if asked, else "tool_use" when tools are given, else "default". */
  select(name?: string, hasTools = false): { name: string; template: string } {
    if (this.single) return { name: 'default', template: this.templates.get('default')! };
    const pick = name ?? (hasTools && this.templates.has('tool_use') ? 'tool_use' : 'default');
    const t = this.templates.get(pick);
    if (t === undefined) {
      throw new Error(
        name === undefined
          ? `${this.source}: this model has several chat templates and no "default"; choose one of ${this.names().join(', ')}`
          : `${this.source}: no chat template named '${name}' (known: ${this.names().join(', ')})`,
      );
    }
    return { name: pick, template: t };
  }

  render(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    const addGenerationPrompt = opts.addGenerationPrompt ?? false;
    if (addGenerationPrompt && opts.continueFinalMessage) {
      throw new Error(`${this.source}: continueFinalMessage and addGenerationPrompt cannot both be set (the final message would not be continued)`);
    }
    const tools = opts.tools ?? null;
    const { name, template } = this.select(opts.templateName, tools !== null);
    let compiled = this.parsed.get(name);
    if (!compiled) {
      try {
        compiled = new Template(template);
      } catch (e) {
        throw new Error(`${this.source}${this.single ? '' : ` ('${name}')`}: cannot parse the template: ${(e as Error).message}`);
      }
      this.parsed.set(name, compiled);
    }
    const now = opts.now ?? (() => new Date());
    const source = this.source;
    let rendered: string;
    try {
      rendered = renderWith(compiled, {
        ...opts.specialTokens,
        ...opts.kwargs,
        messages: messages.map((m) => ({ ...m })),
        tools,
        documents: opts.documents ?? null,
        add_generation_prompt: addGenerationPrompt,
        raise_exception: (message: unknown) => {
          throw new ChatTemplateError(String(message), source);
        },
        strftime_now: (format: unknown) => strftime(now(), String(format)),
      });
    } catch (e) {
      if (e instanceof ChatTemplateError) throw e;
      throw new Error(`${this.source}: rendering failed: ${(e as Error).message}`);
    }
    return opts.continueFinalMessage ? cutAfterFinalMessage(rendered, messages, this.source) : rendered;
  }
}

/**
 * Template.render declares the library's globals (raise_exception, strftime_now, …) in the scope of the
 * caller's variables and refuses redeclaration, and its setupGlobals is not exported: so the globals are
 * declared here (Jinja's constants and range, the library's own), and the variables one scope below.
 */
function renderWith(template: Template, vars: Record<string, unknown>): string {
  const globals = new Environment();
  for (const [k, v] of [['true', true], ['false', false], ['none', null], ['True', true], ['False', false], ['None', null]] as const) globals.set(k, v);
  globals.set('range', pyRange);
  const env = new Environment(globals);
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) env.set(k, v);
  const interpreter = new Interpreter(env);
  // Output as Python's str(): the library writes true/null/JSON where jinja2 writes True/None/reprs.
  const StringValue = env.set('__igrpo_str', '').constructor as new (s: string) => RuntimeValue;
  const inner = interpreter as unknown as { evaluate(s: unknown, e: Environment): RuntimeValue; evaluateBlock: unknown };
  inner.evaluateBlock = (statements: { type: string }[], environment: Environment) => {
    let out = '';
    for (const st of statements) {
      const v = inner.evaluate(st, environment);
      // statements ({% set %}, macros, …) evaluate to null and write nothing; {{ none }} writes None
      if (STATEMENTS.has(st.type) && (v.type === 'NullValue' || v.type === 'UndefinedValue')) continue;
      out += pyStr(v);
    }
    return new StringValue(out);
  };
  return (interpreter.run(template.parsed) as RuntimeValue).value as string;
}

/** Python's str.isspace() characters: what str.strip() removes when given no characters. */
const PY_SPACE = new Set([...'\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000'].concat(Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i))));

/** Python's str.strip / lstrip / rstrip ([chars]): chars is a set of characters; None or absent means whitespace. */
export function pyStrip(s: string, chars: string | null | undefined, side: 'both' | 'left' | 'right'): string {
  const drop = (ch: string) => (chars === null || chars === undefined ? PY_SPACE.has(ch) : chars.includes(ch));
  const cps = [...s];
  let a = 0;
  let b = cps.length;
  if (side !== 'right') while (a < b && drop(cps[a])) a++;
  if (side !== 'left') while (b > a && drop(cps[b - 1])) b--;
  return cps.slice(a, b).join('');
}

/**
 * @huggingface/jinja 0.5's str.strip/lstrip/rstrip ignore their argument (Qwen3's template calls
 * .strip('\n') on reasoning text, so "<think>\n  x" lost its indent) and trim JavaScript's whitespace.
 * Its value classes are not exported: reach StringValue through a value and wrap its builtins getter.
 */
function patchStringStrip(): void {
  const probe = new Environment();
  const proto = Object.getPrototypeOf(probe.set('s', '')) as Record<string, unknown>;
  if (proto.__igrpoPyStrip) return;
  const desc = Object.getOwnPropertyDescriptor(proto, 'builtins');
  if (!desc?.get) throw new Error('@huggingface/jinja: StringValue has no builtins getter (library changed); chat templates cannot be rendered as Python does');
  const StringValue = proto.constructor as new (s: string) => RuntimeValue;
  const FunctionValue = probe.set('f', () => null).constructor as new (fn: (args: RuntimeValue[]) => RuntimeValue) => RuntimeValue;
  const original = desc.get;
  Object.defineProperty(proto, 'builtins', {
    configurable: true,
    get(this: RuntimeValue) {
      const map = original.call(this) as Map<string, RuntimeValue> & { __py?: true };
      if (!map.__py) {
        const value = this.value as string;
        const charsOf = (args: RuntimeValue[]) => (args[0] === undefined || args[0].type === 'NullValue' ? null : String(args[0].value));
        map.set('strip', new FunctionValue((args) => new StringValue(pyStrip(value, charsOf(args), 'both'))));
        map.set('lstrip', new FunctionValue((args) => new StringValue(pyStrip(value, charsOf(args), 'left'))));
        map.set('rstrip', new FunctionValue((args) => new StringValue(pyStrip(value, charsOf(args), 'right'))));
        map.__py = true;
      }
      return map;
    },
  });
  proto.__igrpoPyStrip = true;
}
patchStringStrip();

const STATEMENTS = new Set(['Program', 'If', 'For', 'Break', 'Continue', 'Set', 'Macro', 'Comment', 'FilterStatement', 'CallStatement']);

/** The shape of @huggingface/jinja's runtime values (its classes are not exported). */
interface RuntimeValue {
  type: string;
  value: unknown;
  toString(): string;
}

/** Python's str() of a template value, as jinja2 writes {{ x }}. */
function pyStr(v: RuntimeValue): string {
  switch (v.type) {
    case 'UndefinedValue':
      return '';
    case 'StringValue':
      return v.value as string;
    default:
      return pyRepr(v);
  }
}

/** Python's repr() of a template value (inside lists and dicts, and for None/True/False). */
function pyRepr(v: RuntimeValue): string {
  switch (v.type) {
    case 'NullValue':
      return 'None';
    case 'UndefinedValue':
      return '';
    case 'BooleanValue':
      return v.value ? 'True' : 'False';
    case 'StringValue':
      return pyStringRepr(v.value as string);
    case 'ArrayValue':
      return `[${(v.value as RuntimeValue[]).map(pyRepr).join(', ')}]`;
    case 'TupleValue': {
      const items = (v.value as RuntimeValue[]).map(pyRepr);
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
    }
    case 'ObjectValue':
    case 'KeywordArgumentsValue':
      return `{${[...(v.value as Map<string, RuntimeValue>)].map(([k, x]) => `${pyStringRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
    default:
      return v.toString(); // numbers (the library writes floats as Python does: 1.0), functions, namespaces
  }
}

/** Python's repr(str): single quotes unless the text has ' and no ", escapes for what is not printable. */
export function pyStringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && /[\p{C}\p{Z}]/u.test(ch)) {
      out += cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : cp < 0x10000 ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
    } else out += ch;
  }
  return out + quote;
}

/** Python's range(stop) / range(start, stop[, step]) as a list. */
function pyRange(a: number, b?: number, step = 1): number[] {
  const [start, stop] = b === undefined ? [0, a] : [a, b];
  if (!Number.isInteger(start) || !Number.isInteger(stop) || !Number.isInteger(step) || step === 0) throw new Error('range() takes integers and a non-zero step');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

/** transformers' continue_final_message: cut the text right after the final message's content. */
function cutAfterFinalMessage(rendered: string, messages: readonly ChatMessage[], source: string): string {
  const last = messages[messages.length - 1];
  if (!last) throw new Error(`${source}: continueFinalMessage needs at least one message`);
  let final = last.content;
  if (Array.isArray(final)) {
    const block = [...final].reverse().find((b) => typeof b === 'object' && b !== null && 'text' in b) as { text: string } | undefined;
    if (!block) throw new Error(`${source}: continueFinalMessage is set but the final message has no text block`);
    final = block.text;
  }
  const text = String(final);
  const stripped = text.trim();
  const at = rendered.lastIndexOf(stripped);
  if (!rendered.includes(stripped) || at < 0) {
    throw new Error(`${source}: continueFinalMessage is set but the final message does not appear in the rendered chat`);
  }
  const lstripped = text.replace(/^\s+/, '');
  // keep the message's trailing whitespace when the template kept it, else only its stripped text
  return rendered.slice(at, at + lstripped.length) === text
    ? rendered.slice(0, at + lstripped.length)
    : rendered.slice(0, at + stripped.length);
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Python's datetime.strftime in the C locale (what transformers' strftime_now calls), local time. */
export function strftime(d: Date, format: string): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const dayOfYear = Math.round((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 86_400_000) + 1;
  return format.replace(/%([aAbBdfHIjmMpSwyY%e])/g, (_, c: string) => {
    switch (c) {
      case 'a': return DAYS[d.getDay()].slice(0, 3);
      case 'A': return DAYS[d.getDay()];
      case 'b': return MONTHS[d.getMonth()].slice(0, 3);
      case 'B': return MONTHS[d.getMonth()];
      case 'd': return p(d.getDate());
      case 'e': return String(d.getDate()).padStart(2, ' ');
      case 'f': return p(d.getMilliseconds() * 1000, 6);
      case 'H': return p(d.getHours());
      case 'I': return p(d.getHours() % 12 === 0 ? 12 : d.getHours() % 12);
      case 'j': return p(dayOfYear, 3);
      case 'm': return p(d.getMonth() + 1);
      case 'M': return p(d.getMinutes());
      case 'p': return d.getHours() < 12 ? 'AM' : 'PM';
      case 'S': return p(d.getSeconds());
      case 'w': return String(d.getDay());
      case 'y': return p(d.getFullYear() % 100);
      case 'Y': return String(d.getFullYear());
      default: return '%';
    }
  });
}
