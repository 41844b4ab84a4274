/** Reading values out of the tree: repeated fields and [a, b] lists flattened in order, scalars decoded. */
import type { PtField, PtMessage, PtScalar } from './parse';

export function fields(msg: PtMessage, name: string): PtField[] {
  return msg.fields.filter((f) => f.name === name);
}

export function field(msg: PtMessage, name: string): PtField | undefined {
  return msg.fields.find((f) => f.name === name);
}

export function messages(msg: PtMessage, name: string): PtMessage[] {
  const out: PtMessage[] = [];
  for (const f of msg.fields) {
    if (f.name !== name) continue;
    if (f.value.kind === 'message') out.push(f.value);
    else if (f.value.kind === 'list') for (const it of f.value.items) if (it.kind === 'message') out.push(it);
  }
  return out;
}

export function message(msg: PtMessage, name: string): PtMessage | undefined {
  for (const f of msg.fields) if (f.name === name && f.value.kind === 'message') return f.value;
  return messages(msg, name)[0];
}

function scalars(msg: PtMessage, name: string): PtScalar[] {
  const out: PtScalar[] = [];
  for (const f of msg.fields) {
    if (f.name !== name) continue;
    if (f.value.kind === 'scalar') out.push(f.value);
    else if (f.value.kind === 'list') for (const it of f.value.items) if (it.kind === 'scalar') out.push(it);
  }
  return out;
}

const ESC: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

/** Decode one quoted string literal (without concatenation). */
function unquote(lit: string): string {
  let out = '';
  for (let i = 1; i < lit.length - 1; i++) {
    const c = lit[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const d = lit[++i];
    if (d === undefined) break;
    if (d in ESC) out += ESC[d];
    else if (d === 'x' || d === 'X') {
      const m = /^[0-9a-fA-F]{1,2}/.exec(lit.slice(i + 1, i + 3));
      if (m) {
        out += String.fromCharCode(parseInt(m[0], 16));
        i += m[0].length;
      } else out += d;
    } else if (d >= '0' && d <= '7') {
      const m = /^[0-7]{1,3}/.exec(lit.slice(i, i + 3))!;
      out += String.fromCharCode(parseInt(m[0], 8));
      i += m[0].length - 1;
    } else out += d;
  }
  return out;
}

/** The text of a string (escapes resolved, adjacent literals joined) or an identifier. */
export function scalarText(s: PtScalar): string {
  if (s.token !== 'string') return s.raw;
  let out = '';
  const re = /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s.raw))) out += unquote(m[0]);
  return out;
}

/** The number a scalar denotes: ints, floats, hex, inf/-inf/nan, a trailing f; NaN when it is not a number. */
export function scalarNumber(s: PtScalar): number {
  if (s.token === 'string') return NaN;
  let r = s.raw.toLowerCase();
  let sign = 1;
  if (r[0] === '-' || r[0] === '+') {
    if (r[0] === '-') sign = -1;
    r = r.slice(1);
  }
  if (r === 'inf' || r === 'infinity') return sign * Infinity;
  if (r === 'nan') return NaN;
  if (/^0x[0-9a-f]+$/.test(r)) return sign * parseInt(r.slice(2), 16);
  if (/^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?f?$/.test(r)) return sign * Number(r.endsWith('f') ? r.slice(0, -1) : r);
  return NaN;
}

export function str(msg: PtMessage, name: string): string | undefined {
  const s = scalars(msg, name)[0];
  return s ? scalarText(s) : undefined;
}

export function strs(msg: PtMessage, name: string): string[] {
  return scalars(msg, name).map(scalarText);
}

export function num(msg: PtMessage, name: string): number | undefined {
  const s = scalars(msg, name)[0];
  return s ? scalarNumber(s) : undefined;
}

export function nums(msg: PtMessage, name: string): number[] {
  return scalars(msg, name).map(scalarNumber);
}

export function bool(msg: PtMessage, name: string): boolean | undefined {
  const s = scalars(msg, name)[0];
  if (!s) return undefined;
  const t = scalarText(s).toLowerCase();
  if (t === 'true' || t === 't' || t === '1') return true;
  if (t === 'false' || t === 'f' || t === '0') return false;
  return undefined;
}

/** A string literal for the text format. */
export function quote(s: string): string {
  return (
    '"' +
    s.replace(/[\\"\n\r\t]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!) +
    '"'
  );
}
