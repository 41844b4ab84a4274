/**
 * Protobuf text format as Caffe writes it, parsed into a concrete syntax tree of spans over the original text.
 * Nothing is normalised: the tree points into `doc.text`, and printing an unedited tree walks the nodes and the
 * gaps between them (comments, whitespace, separators) to give the input back byte for byte.
 */
import { CaffeFoldError } from '../errors';

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

interface Frame {
  msg: PtMessage;
  close: number; // char code of the closing bracket, or -1 for the root
  /** The field this message is the value of (undefined for the root and for messages inside a list). */
  field?: PtField;
  list?: PtList;
  openAt: number;
  name: string;
}

export function parsePrototxt(text: string, file?: string): PtDocument {
  const n = text.length;
  let pos = 0;
  const fail = (at: number, what: string, hint = 'fix the text at that position; prototxt is protobuf text format: name: value or name { … }'): never => {
    const { line, col } = lineCol(text, at);
    throw new CaffeFoldError('prototxt-syntax', what, { kind: 'text', file, line, col, offset: at }, hint);
  };
  const describe = (at: number): string => {
    if (at >= n) return 'end of file';
    const c = text[at];
    if (c === '\n' || c === '\r') return 'end of line';
    const m = /^[A-Za-z_][\w.]*|^[-+]?[\d.][\w.+-]*|^\S/.exec(text.slice(at, at + 40));
    return `"${m ? m[0] : c}"`;
  };
  const where = (at: number) => {
    const lc = lineCol(text, at);
    return `${lc.line}:${lc.col}`;
  };

  /** Skip whitespace (incl. a BOM) and # comments. */
  const skip = () => {
    while (pos < n) {
      const c = text.charCodeAt(pos);
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12 || c === 0xfeff) pos++;
      else if (c === 35) {
        while (pos < n && text.charCodeAt(pos) !== 10) pos++;
      } else break;
    }
  };

  const readIdent = (): Span | undefined => {
    if (pos < n && isIdentStart(text.charCodeAt(pos))) {
      const s = pos;
      while (pos < n && isIdentPart(text.charCodeAt(pos))) pos++;
      return { start: s, end: pos };
    }
    return undefined;
  };

  const readString = (): Span => {
    const s = pos;
    const q = text.charCodeAt(pos++);
    while (pos < n) {
      const c = text.charCodeAt(pos);
      if (c === 92) {
        pos += 2;
        continue;
      }
      if (c === 10) break;
      pos++;
      if (c === q) return { start: s, end: pos };
    }
    return fail(s, `unterminated string starting at ${where(s)}`, 'close the string with the same quote on the same line');
  };

  const readScalar = (): PtScalar => {
    const s = pos;
    const c = text.charCodeAt(pos);
    if (c === 34 || c === 39) {
      readString();
      // Adjacent strings concatenate: "a" "b".
      for (;;) {
        const save = pos;
        skip();
        const d = text.charCodeAt(pos);
        if (pos < n && (d === 34 || d === 39)) readString();
        else {
          pos = save;
          break;
        }
      }
      return { kind: 'scalar', token: 'string', raw: text.slice(s, pos), span: { start: s, end: pos } };
    }
    if (c === 45 || c === 43 || c === 46 || isDigit(c)) {
      let p = pos;
      if (c === 45 || c === 43) p++;
      const rest = text.slice(p, p + 9).toLowerCase();
      const word = /^(infinity|inf|nan)(?![\w.])/.exec(rest);
      if (word) {
        pos = p + word[1].length;
        return { kind: 'scalar', token: 'number', raw: text.slice(s, pos), span: { start: s, end: pos } };
      }
      const m = /^(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fF]?)/.exec(text.slice(p, p + 400));
      if (!m) return fail(s, `expected a number, found ${describe(s)}`);
      pos = p + m[0].length;
      if (pos < n && isIdentPart(text.charCodeAt(pos))) fail(s, `malformed number ${describe(s)}`, 'write numbers like 3, -0.5, 1e-5 or 0x1F');
      return { kind: 'scalar', token: 'number', raw: text.slice(s, pos), span: { start: s, end: pos } };
    }
    const id = readIdent();
    if (id) return { kind: 'scalar', token: 'ident', raw: text.slice(id.start, id.end), span: id };
    return fail(pos, `expected a value, found ${describe(pos)}`);
  };

  const root: PtMessage = { kind: 'message', fields: [], span: { start: 0, end: n } };
  const stack: Frame[] = [{ msg: root, close: -1, openAt: 0, name: 'file' }];

  const openMessage = (at: number, name: string, field?: PtField, list?: PtList): PtMessage => {
    if (stack.length > MAX_DEPTH) fail(at, `messages nested more than ${MAX_DEPTH} deep`, 'this is not a Caffe network definition');
    const open = text.charCodeAt(at);
    const msg: PtMessage = { kind: 'message', fields: [], span: { start: at, end: -1 } };
    stack.push({ msg, close: open === 60 ? 62 : 125, field, list, openAt: at, name });
    pos = at + 1;
    return msg;
  };

  /** After a value: an optional ';' or ',' separator. */
  const separator = () => {
    const save = pos;
    skip();
    const c = text.charCodeAt(pos);
    if (c === 59 || c === 44) pos++;
    else pos = save;
  };

  /** Parse the rest of a [ … ] list; message items push a frame and return. Returns true when the list closed. */
  const continueList = (list: PtList, listStartName: string): boolean => {
    for (;;) {
      skip();
      if (pos >= n) fail(pos, `expected ']' to close the list of "${listStartName}" opened at ${where(list.span.start)}, found end of file`);
      const c = text.charCodeAt(pos);
      if (c === 93) {
        pos++;
        list.span.end = pos;
        return true;
      }
      if (list.items.length > 0) {
        if (c !== 44) fail(pos, `expected ',' or ']' in the list of "${listStartName}", found ${describe(pos)}`);
        pos++;
        skip();
      }
      const d = text.charCodeAt(pos);
      if (d === 123 || d === 60) {
        const m = openMessage(pos, listStartName, undefined, list);
        list.items.push(m);
        return false;
      }
      if (d === 93 && list.items.length > 0) fail(pos, `expected a value after ',' in the list of "${listStartName}"`);
      list.items.push(readScalar());
    }
  };

  // Lists whose message items are being parsed: when the item's frame closes we continue the list.
  const pendingLists: { list: PtList; name: string; field: PtField }[] = [];

  for (;;) {
    const top = stack[stack.length - 1];
    skip();
    if (pos >= n) {
      if (top.close !== -1) {
        fail(pos, `expected '${String.fromCharCode(top.close)}' to close "${top.name}" opened at ${where(top.openAt)}, found end of file`, 'a closing brace is missing');
      }
      break;
    }
    const c = text.charCodeAt(pos);
    if (c === top.close) {
      pos++;
      top.msg.span.end = pos;
      stack.pop();
      if (top.field) {
        top.field.span.end = pos;
        separator();
      }
      // A message item of a list closed: go on with the list.
      const pl = pendingLists[pendingLists.length - 1];
      if (pl && top.list === pl.list) {
        if (continueList(pl.list, pl.name)) {
          pendingLists.pop();
          pl.field.span.end = pos;
          separator();
        }
      }
      continue;
    }
    if (c === 125 || c === 62 || c === 93) {
      fail(pos, top.close === -1 ? `unexpected ${describe(pos)}: nothing is open here` : `expected '${String.fromCharCode(top.close)}' to close "${top.name}" opened at ${where(top.openAt)}, found ${describe(pos)}`, 'check the braces above this line');
    }
    // A field: name, then ':' value, or a message.
    let nameSpan = readIdent();
    if (!nameSpan && c === 91) {
      // [extension.name]
      const s = pos;
      const close = text.indexOf(']', pos);
      if (close < 0 || close - pos > 200) fail(pos, `expected a field name, found ${describe(pos)}`);
      pos = close + 1;
      nameSpan = { start: s, end: pos };
    }
    if (!nameSpan) fail(pos, `expected a field name, found ${describe(pos)}`);
    const name = text.slice(nameSpan!.start, nameSpan!.end);
    skip();
    let colon = false;
    if (text.charCodeAt(pos) === 58) {
      colon = true;
      pos++;
      skip();
    }
    if (pos >= n) fail(pos, `expected a value for "${name}", found end of file`);
    const v = text.charCodeAt(pos);
    const field: PtField = { name, nameSpan: nameSpan!, value: undefined as unknown as PtScalar, span: { start: nameSpan!.start, end: -1 } };
    top.msg.fields.push(field);
    if (v === 123 || v === 60) {
      field.value = openMessage(pos, name, field);
      continue;
    }
    if (!colon) fail(pos, `expected ':' or '{' after "${name}", found ${describe(pos)}`);
    if (v === 91) {
      const list: PtList = { kind: 'list', items: [], span: { start: pos, end: -1 } };
      field.value = list;
      pos++;
      if (continueList(list, name)) {
        field.span.end = pos;
        separator();
      } else pendingLists.push({ list, name, field });
      continue;
    }
    if (v === 10 || v === 13 || v === 125 || v === 35) fail(pos, `expected a value for "${name}", found ${describe(pos)}`);
    field.value = readScalar();
    field.span.end = pos;
    separator();
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
