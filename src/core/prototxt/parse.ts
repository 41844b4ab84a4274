/**
 * Protobuf text format as Caffe writes it, parsed into a concrete syntax tree of spans over the original text.
 * Nothing is normalised: the tree points into `doc.text`, and printing an unedited tree walks the nodes and the
 * gaps between them (comments, whitespace, separators) to give the input back byte for byte.
 */
import { caffeError, type PrototxtSyntax } from '../errors';

export interface Span {
  start: number;
  end: number;
}
export interface PtScalar {
  kind: 'scalar';
  token: 'number' | 'string' | 'ident';
  raw: string;
  span: Span;
}
export interface PtList {
  kind: 'list';
  items: (PtScalar | PtMessage)[];
  span: Span;
}
export interface PtMessage {
  kind: 'message';
  fields: PtField[];
  /** Braces inclusive; for the root, the whole text. */
  span: Span;
}
export interface PtField {
  name: string;
  nameSpan: Span;
  value: PtScalar | PtList | PtMessage;
  /** From the name's start to the value's end. */
  span: Span;
}
export interface PtDocument {
  text: string;
  root: PtMessage;
  file?: string;
}

export const MAX_DEPTH = 100;

export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

const isIdentStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isIdentPart = (c: number) => isIdentStart(c) || (c >= 48 && c <= 57) || c === 46;
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * The text and the reading position. One is made per parse and handed to every reader below, which advances
 * `pos`; no reader allocates anything but the spans and nodes it returns.
 */
interface Cursor {
  readonly text: string;
  readonly n: number;
  readonly file: string | undefined;
  pos: number;
}

// --- Errors: what was found where ---

function fail(cur: Cursor, at: number, syntax: PrototxtSyntax): never {
  const { line, col } = lineCol(cur.text, at);
  throw caffeError('prototxt-syntax', syntax, { kind: 'text', file: cur.file, line, col, offset: at });
}

/** The token at `at`, quoted, for a message: "found …". */
function describe({ text, n }: Cursor, at: number): string {
  if (at >= n) return 'end of file';
  const c = text[at];
  if (c === '\n' || c === '\r') return 'end of line';
  const m = /^[A-Za-z_][\w.]*|^[-+]?[\d.][\w.+-]*|^\S/.exec(text.slice(at, at + 40));
  return `"${m ? m[0] : c}"`;
}

/** `line:col` of an offset, to point back at where a bracket or string was opened. */
function where(cur: Cursor, at: number): string {
  const lc = lineCol(cur.text, at);
  return `${lc.line}:${lc.col}`;
}

// --- Tokens ---

/** Skip whitespace (incl. a BOM) and # comments. */
function skip(cur: Cursor): void {
  const { text, n } = cur;
  let pos = cur.pos;
  while (pos < n) {
    const c = text.charCodeAt(pos);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12 || c === 0xfeff) pos++;
    else if (c === 35) {
      while (pos < n && text.charCodeAt(pos) !== 10) pos++;
    } else break;
  }
  cur.pos = pos;
}

function readIdent(cur: Cursor): Span | undefined {
  const { text, n } = cur;
  let pos = cur.pos;
  if (pos < n && isIdentStart(text.charCodeAt(pos))) {
    const s = pos;
    while (pos < n && isIdentPart(text.charCodeAt(pos))) pos++;
    cur.pos = pos;
    return { start: s, end: pos };
  }
  return undefined;
}

/** One quoted literal, escapes skipped over (they are decoded on reading, see read.ts); it may not span lines. */
function readString(cur: Cursor): Span {
  const { text, n } = cur;
  const s = cur.pos;
  let pos = s;
  const q = text.charCodeAt(pos++);
  while (pos < n) {
    const c = text.charCodeAt(pos);
    if (c === 92) {
      pos += 2;
      continue;
    }
    if (c === 10) break;
    pos++;
    if (c === q) {
      cur.pos = pos;
      return { start: s, end: pos };
    }
  }
  return fail(cur, s, { why: 'string', opened: where(cur, s) });
}

/** A string value: one literal, or several adjacent ones, which concatenate ("a" "b"). */
function readStrings(cur: Cursor): PtScalar {
  const { text, n } = cur;
  const s = cur.pos;
  readString(cur);
  for (;;) {
    const save = cur.pos;
    skip(cur);
    const d = text.charCodeAt(cur.pos);
    if (cur.pos < n && (d === 34 || d === 39)) readString(cur);
    else {
      cur.pos = save;
      break;
    }
  }
  return { kind: 'scalar', token: 'string', raw: text.slice(s, cur.pos), span: { start: s, end: cur.pos } };
}

/** A number as protobuf text format writes it: signed ints and floats, hex, inf/infinity/nan, a trailing f. */
function readNumber(cur: Cursor): PtScalar {
  const { text, n } = cur;
  const s = cur.pos;
  const c = text.charCodeAt(s);
  let p = s;
  if (c === 45 || c === 43) p++;
  const rest = text.slice(p, p + 9).toLowerCase();
  const word = /^(infinity|inf|nan)(?![\w.])/.exec(rest);
  if (word) {
    cur.pos = p + word[1].length;
    return { kind: 'scalar', token: 'number', raw: text.slice(s, cur.pos), span: { start: s, end: cur.pos } };
  }
  const m = /^(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fF]?)/.exec(text.slice(p, p + 400));
  if (!m) return fail(cur, s, { why: 'number', found: describe(cur, s) });
  cur.pos = p + m[0].length;
  if (cur.pos < n && isIdentPart(text.charCodeAt(cur.pos)))
    fail(cur, s, { why: 'malformed-number', found: describe(cur, s) });
  return { kind: 'scalar', token: 'number', raw: text.slice(s, cur.pos), span: { start: s, end: cur.pos } };
}

/** A scalar value: string, number or identifier (enum values, true/false). */
function readScalar(cur: Cursor): PtScalar {
  const c = cur.text.charCodeAt(cur.pos);
  if (c === 34 || c === 39) return readStrings(cur);
  if (c === 45 || c === 43 || c === 46 || isDigit(c)) return readNumber(cur);
  const id = readIdent(cur);
  if (id) return { kind: 'scalar', token: 'ident', raw: cur.text.slice(id.start, id.end), span: id };
  return fail(cur, cur.pos, { why: 'value', found: describe(cur, cur.pos) });
}

/** After a value: an optional ';' or ',' separator. */
function separator(cur: Cursor): void {
  const save = cur.pos;
  skip(cur);
  const c = cur.text.charCodeAt(cur.pos);
  if (c === 59 || c === 44) cur.pos++;
  else cur.pos = save;
}

// --- Structure: messages, fields, lists ---

/** An open message, from its opening bracket until its closing one is read. */
interface Frame {
  msg: PtMessage;
  close: number; // char code of the closing bracket, or -1 for the root
  /** The field this message is the value of (undefined for the root and for messages inside a list). */
  field?: PtField;
  list?: PtList;
  openAt: number;
  name: string;
}

/**
 * The parser's state beyond the cursor. Messages are read with an explicit stack of open frames, not by
 * recursion: parsePrototxt's loop reads the fields of the message on top, and a list whose item is a message
 * waits in pendingLists until that item closes.
 */
interface Parser extends Cursor {
  stack: Frame[];
  // Lists whose message items are being parsed: when the item's frame closes we continue the list.
  pendingLists: { list: PtList; name: string; field: PtField }[];
}

function openMessage(ps: Parser, at: number, name: string, field?: PtField, list?: PtList): PtMessage {
  if (ps.stack.length > MAX_DEPTH) fail(ps, at, { why: 'too-deep', max: MAX_DEPTH });
  const open = ps.text.charCodeAt(at);
  const msg: PtMessage = { kind: 'message', fields: [], span: { start: at, end: -1 } };
  ps.stack.push({ msg, close: open === 60 ? 62 : 125, field, list, openAt: at, name });
  ps.pos = at + 1;
  return msg;
}

/** Read the closing bracket of the message on top of the stack; the list it is an item of, if any, goes on. */
function closeMessage(ps: Parser, top: Frame): void {
  ps.pos++;
  top.msg.span.end = ps.pos;
  ps.stack.pop();
  if (top.field) {
    top.field.span.end = ps.pos;
    separator(ps);
  }
  const pl = ps.pendingLists[ps.pendingLists.length - 1];
  if (pl && top.list === pl.list) {
    if (continueList(ps, pl.list, pl.name)) {
      ps.pendingLists.pop();
      pl.field.span.end = ps.pos;
      separator(ps);
    }
  }
}

/** Parse the rest of a [ … ] list; message items push a frame and return. Returns true when the list closed. */
function continueList(ps: Parser, list: PtList, listStartName: string): boolean {
  const { text, n } = ps;
  for (;;) {
    skip(ps);
    if (ps.pos >= n)
      fail(ps, ps.pos, {
        why: 'unclosed',
        close: ']',
        field: listStartName,
        opened: where(ps, list.span.start),
        found: 'end of file',
      });
    const c = text.charCodeAt(ps.pos);
    if (c === 93) {
      ps.pos++;
      list.span.end = ps.pos;
      return true;
    }
    if (list.items.length > 0) {
      if (c !== 44) fail(ps, ps.pos, { why: 'list-separator', field: listStartName, found: describe(ps, ps.pos) });
      ps.pos++;
      skip(ps);
    }
    const d = text.charCodeAt(ps.pos);
    if (d === 123 || d === 60) {
      const m = openMessage(ps, ps.pos, listStartName, undefined, list);
      list.items.push(m);
      return false;
    }
    if (d === 93 && list.items.length > 0)
      fail(ps, ps.pos, { why: 'list-value', field: listStartName, found: describe(ps, ps.pos) });
    list.items.push(readScalar(ps));
  }
}

/** A field's name: an identifier, or an extension's [full.name]. */
function readFieldName(ps: Parser): Span {
  const nameSpan = readIdent(ps);
  if (nameSpan) return nameSpan;
  if (ps.text.charCodeAt(ps.pos) === 91) {
    const s = ps.pos;
    const close = ps.text.indexOf(']', ps.pos);
    if (close < 0 || close - ps.pos > 200) fail(ps, ps.pos, { why: 'field-name', found: describe(ps, ps.pos) });
    ps.pos = close + 1;
    return { start: s, end: ps.pos };
  }
  return fail(ps, ps.pos, { why: 'field-name', found: describe(ps, ps.pos) });
}

/** A field of the message `top`: name, then ':' value, or a message (whose frame is pushed, to be read next). */
function readField(ps: Parser, top: Frame): void {
  const { text, n } = ps;
  const nameSpan = readFieldName(ps);
  const name = text.slice(nameSpan.start, nameSpan.end);
  skip(ps);
  let colon = false;
  if (text.charCodeAt(ps.pos) === 58) {
    colon = true;
    ps.pos++;
    skip(ps);
  }
  if (ps.pos >= n) fail(ps, ps.pos, { why: 'value', field: name, found: 'end of file' });
  const v = text.charCodeAt(ps.pos);
  const field: PtField = {
    name,
    nameSpan,
    value: undefined as unknown as PtScalar,
    span: { start: nameSpan.start, end: -1 },
  };
  top.msg.fields.push(field);
  if (v === 123 || v === 60) {
    field.value = openMessage(ps, ps.pos, name, field);
    return;
  }
  if (!colon) fail(ps, ps.pos, { why: 'colon', field: name, found: describe(ps, ps.pos) });
  if (v === 91) {
    const list: PtList = { kind: 'list', items: [], span: { start: ps.pos, end: -1 } };
    field.value = list;
    ps.pos++;
    if (continueList(ps, list, name)) {
      field.span.end = ps.pos;
      separator(ps);
    } else ps.pendingLists.push({ list, name, field });
    return;
  }
  if (v === 10 || v === 13 || v === 125 || v === 35)
    fail(ps, ps.pos, { why: 'value', field: name, found: describe(ps, ps.pos) });
  field.value = readScalar(ps);
  field.span.end = ps.pos;
  separator(ps);
}

export function parsePrototxt(text: string, file?: string): PtDocument {
  const n = text.length;
  const root: PtMessage = { kind: 'message', fields: [], span: { start: 0, end: n } };
  const ps: Parser = {
    text,
    n,
    file,
    pos: 0,
    stack: [{ msg: root, close: -1, openAt: 0, name: 'file' }],
    pendingLists: [],
  };
  for (;;) {
    const top = ps.stack[ps.stack.length - 1];
    skip(ps);
    if (ps.pos >= n) {
      if (top.close !== -1) {
        fail(ps, ps.pos, {
          why: 'unclosed',
          close: String.fromCharCode(top.close),
          field: top.name,
          opened: where(ps, top.openAt),
          found: 'end of file',
        });
      }
      break;
    }
    const c = text.charCodeAt(ps.pos);
    if (c === top.close) closeMessage(ps, top);
    else if (c === 125 || c === 62 || c === 93) {
      const found = describe(ps, ps.pos);
      fail(
        ps,
        ps.pos,
        top.close === -1
          ? { why: 'unopened', found }
          : {
              why: 'unclosed',
              close: String.fromCharCode(top.close),
              field: top.name,
              opened: where(ps, top.openAt),
              found,
            },
      );
    } else readField(ps, top);
  }
  return { text, root, file };
}

/** Print the tree: the nodes and the text between them, in order. Unedited, this is the input byte for byte. */
export function printPrototxt(doc: PtDocument): string {
  const out: string[] = [];
  const { text } = doc;
  let at = 0;
  const emitTo = (end: number) => {
    if (end > at) out.push(text.slice(at, end));
    at = Math.max(at, end);
  };
  const walk = (m: PtMessage) => {
    for (const f of m.fields) {
      emitTo(f.nameSpan.start);
      out.push(text.slice(f.nameSpan.start, f.nameSpan.end));
      at = f.nameSpan.end;
      value(f.value);
    }
  };
  const value = (v: PtScalar | PtList | PtMessage) => {
    if (v.kind === 'scalar') {
      emitTo(v.span.start);
      out.push(v.raw);
      at = v.span.end;
    } else if (v.kind === 'list') {
      for (const it of v.items) value(it);
      emitTo(v.span.end);
    } else {
      walk(v);
      emitTo(v.span.end);
    }
  };
  walk(doc.root);
  emitTo(text.length);
  return out.join('');
}
