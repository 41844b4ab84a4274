/**
 * Edits as text splices over the original: only the edited spans change, new lines follow the file's own
 * indentation and line endings, everything else stays byte for byte.
 */
import { field, message } from './read';
import type { PtDocument, PtField, PtMessage, PtScalar } from './parse';

interface Splice {
  start: number;
  end: number;
  text: string;
  seq: number;
}

const isBlank = (s: string) => /^[ \t]*$/.test(s);

export class PrototxtEditor {
  private splices: Splice[] = [];
  private seq = 0;
  readonly text: string;
  private readonly nl: string;
  private readonly unit: string;

  constructor(readonly doc: PtDocument) {
    this.text = doc.text;
    this.nl = /\r\n/.test(this.text) ? '\r\n' : '\n';
    this.unit = detectIndentUnit(this.text);
  }

  private add(start: number, end: number, text: string) {
    this.splices.push({ start, end, text, seq: this.seq++ });
  }

  private lineStart(at: number): number {
    const i = this.text.lastIndexOf('\n', at - 1);
    return i + 1;
  }

  /** Offset of the line break ending the line that contains `at` (text length on the last line). */
  private lineEnd(at: number): number {
    const i = this.text.indexOf('\n', at);
    if (i < 0) return this.text.length;
    return i > 0 && this.text[i - 1] === '\r' ? i - 1 : i;
  }

  private nextLineStart(at: number): number {
    const i = this.text.indexOf('\n', at);
    return i < 0 ? this.text.length : i + 1;
  }

  /** The indentation of the line a field starts on, if the field is the first thing on it. */
  private indentOf(f: PtField): string | undefined {
    const ls = this.lineStart(f.span.start);
    const before = this.text.slice(ls, f.span.start);
    return isBlank(before) ? before : undefined;
  }

  /** Remove a field (a whole layer, say): its own lines when it has them, else just its span. */
  remove(f: PtField): this {
    const { text } = this;
    const ls = this.lineStart(f.span.start);
    const le = this.lineEnd(f.span.end);
    const after = text.slice(f.span.end, le);
    if (isBlank(text.slice(ls, f.span.start)) && /^[ \t]*[;,]?[ \t]*(#.*)?$/.test(after)) {
      let end = this.nextLineStart(f.span.end);
      // Keep blank-line separation tidy: with a blank line above and below, take the one below along.
      const prevBlank = ls === 0 || isBlank(text.slice(this.lineStart(ls - 1), ls).replace(/\r?\n$/, ''));
      const nextLe = this.lineEnd(end);
      if (prevBlank && end < text.length && isBlank(text.slice(end, nextLe))) end = this.nextLineStart(end);
      this.add(ls, end, '');
    } else {
      let end = f.span.end;
      while (end < text.length && (text[end] === ' ' || text[end] === '\t')) end++;
      this.add(f.span.start, end, '');
    }
    return this;
  }

  /** Replace a whole field (a layer, say) with other text; the field's own indentation stays. */
  replace(f: PtField, text: string): this {
    this.add(f.span.start, f.span.end, text);
    return this;
  }

  /** A field's text with the edits made inside it so far (to move an edited layer elsewhere). */
  render(f: PtField): string {
    const { start, end } = f.span;
    const inside = this.splices.filter((s) => s.start >= start && s.end <= end);
    return spliced(this.text, inside, start, end);
  }

  /** Replace a scalar's raw text. */
  setRaw(s: PtScalar, raw: string): this {
    this.add(s.span.start, s.span.end, raw);
    return this;
  }

  /** Set scalar field `name` in msg: replace the first one, or add `name: raw` after msg's last field. */
  set(msg: PtMessage, name: string, raw: string): this {
    const f = field(msg, name);
    if (f && f.value.kind === 'scalar') return this.setRaw(f.value, raw);
    this.insertInto(msg, [`${name}: ${raw}`]);
    return this;
  }

  /** Set `name` inside sub-message `sub` of msg, creating `sub { … }` when absent. */
  setIn(msg: PtMessage, sub: string, name: string, raw: string): this {
    const m = message(msg, sub);
    if (m) return this.set(m, name, raw);
    this.insertInto(msg, [`${sub} {`, `${this.unit}${name}: ${raw}`, `}`], `${sub} { ${name}: ${raw} }`);
    return this;
  }

  /** Insert a whole field's text (one or more lines) after `after`, on its own lines at after's indentation. */
  insertAfter(after: PtField, rawFieldText: string): this {
    const indent = this.indentOf(after) ?? '';
    const lines = rawFieldText.replace(/\r?\n$/, '').split(/\r?\n/);
    const at = this.lineEnd(after.span.end);
    this.add(at, at, lines.map((l) => this.nl + (l ? indent + l : '')).join(''));
    return this;
  }

  /**
   * Add lines at the end of msg: on new lines after its last field when that field has a line of its own,
   * else inline (`inline` text) after it or after the opening brace.
   */
  private insertInto(msg: PtMessage, lines: string[], inline = lines.join(' ')) {
    const { text } = this;
    const last = msg.fields[msg.fields.length - 1];
    const isRoot = msg.span.start === 0 && msg.span.end === text.length && text[0] !== '{' && text[0] !== '<';
    if (last) {
      const indent = this.indentOf(last);
      const le = this.lineEnd(last.span.end);
      const rest = text.slice(last.span.end, le);
      if (indent !== undefined && /^[ \t]*[;,]?[ \t]*(#.*)?$/.test(rest)) {
        this.add(le, le, lines.map((l) => this.nl + indent + l).join(''));
        return;
      }
      this.add(last.span.end, last.span.end, ' ' + inline);
      return;
    }
    if (isRoot) {
      this.add(
        text.length,
        text.length,
        (text.length && !text.endsWith('\n') ? this.nl : '') + lines.join(this.nl) + this.nl,
      );
      return;
    }
    // Empty message: inside the braces.
    const open = msg.span.start + 1;
    const inside = text.slice(open, msg.span.end - 1);
    if (!inside.includes('\n')) {
      this.add(open, msg.span.end - 1, ` ${inline} `);
      return;
    }
    const ls = this.lineStart(msg.span.start);
    const base = /^[ \t]*/.exec(text.slice(ls))![0];
    this.add(open, open, lines.map((l) => this.nl + base + this.unit + l).join(''));
  }

  toString(): string {
    return spliced(this.text, this.splices, 0, this.text.length);
  }
}

/** text[start, end) with the splices applied. */
function spliced(text: string, splices: Splice[], start: number, end: number): string {
  const sorted = [...splices].sort((a, b) => a.start - b.start || a.seq - b.seq);
  const out: string[] = [];
  let at = start;
  let covered = -1; // end of the last removal/replacement
  for (const s of sorted) {
    if (s.start < covered) {
      // Inside an earlier splice (an edit within a removed block): the removal wins.
      if (s.end <= covered) continue;
      throw new Error(`Overlapping prototxt edits at offsets ${s.start}–${s.end}.`);
    }
    out.push(text.slice(at, s.start), s.text);
    at = s.end;
    if (s.end > s.start) covered = s.end;
  }
  out.push(text.slice(at, end));
  return out.join('');
}

/** Tabs, or the smallest step of leading spaces used in the file (2 by default). */
export function detectIndentUnit(text: string): string {
  let tabs = 0;
  let spaces = 0;
  let min = Infinity;
  for (const m of text.matchAll(/\n([ \t]+)\S/g)) {
    if (m[1][0] === '\t') tabs++;
    else {
      spaces++;
      min = Math.min(min, m[1].length);
    }
  }
  if (tabs > spaces) return '\t';
  return ' '.repeat(Number.isFinite(min) ? Math.min(min, 8) : 2);
}
