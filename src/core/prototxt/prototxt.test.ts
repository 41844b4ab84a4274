import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCaffeFoldError, type CaffeFoldError } from '../errors';
import {
  PrototxtEditor,
  bool,
  fields,
  message,
  messages,
  num,
  nums,
  parsePrototxt,
  printPrototxt,
  str,
  strs,
  type PtMessage,
} from '.';

const CORPUS = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../shared/corpus/prototxt');
const haveCorpus = existsSync(CORPUS);
if (!haveCorpus) console.warn(`[prototxt tests] ${CORPUS} is absent: corpus round trips are skipped.`);
const corpus = haveCorpus ? readdirSync(CORPUS).filter((f) => f.endsWith('.prototxt')) : [];
const read = (f: string) => readFileSync(join(CORPUS, f), 'utf8');

function syntaxError(text: string): CaffeFoldError {
  try {
    parsePrototxt(text, 'x.prototxt');
  } catch (e) {
    if (isCaffeFoldError(e)) return e;
    throw e;
  }
  throw new Error('expected a syntax error');
}

// ---- generator of valid texts, with what each field holds ----

type Gen = { text: string; checks: { path: string[]; name: string; value: string | number }[] };

const ws = fc.constantFrom(' ', '  ', '\t', '\n', '\r\n', '\n\n', ' # a comment\n', '\n  # another\n');
const sep = fc.constantFrom('', '', ';', ',');
const ident = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
const strValue = fc.string({ maxLength: 12 }).map((s) => [...s].map((c) => (c < ' ' || c > '~' ? 'x' : c)).join(''));
const quoteStr = (s: string, q: '"' | "'") => q + s.replace(/\\/g, '\\\\').replace(new RegExp(q, 'g'), '\\' + q) + q;

const scalar: fc.Arbitrary<{ raw: string; value: string | number }> = fc.oneof(
  fc.integer({ min: -100000, max: 100000 }).map((n) => ({ raw: String(n), value: n })),
  fc
    .double({ min: -1e6, max: 1e6, noNaN: true })
    .map((d) => ({ raw: String(d).replace('e+', 'e'), value: Number(String(d).replace('e+', 'e')) })),
  fc.constantFrom<{ raw: string; value: string | number }>(
    { raw: '1e-5', value: 1e-5 },
    { raw: '.5', value: 0.5 },
    { raw: '5.', value: 5 },
    { raw: '0.5f', value: 0.5 },
    { raw: 'inf', value: Infinity },
    { raw: '-inf', value: -Infinity },
    { raw: '0x1F', value: 31 },
    { raw: 'TEST', value: 'TEST' },
    { raw: 'true', value: 'true' },
  ),
  fc.tuple(strValue, fc.constantFrom<'"' | "'">('"', "'")).map(([s, q]) => ({ raw: quoteStr(s, q), value: s })),
);

function messageBody(depth: number, path: string[]): fc.Arbitrary<Gen> {
  const field: fc.Arbitrary<Gen> = fc
    .tuple(ident, depth > 0 ? fc.nat(3) : fc.constant(0), ws, ws, sep)
    .chain(([name, kind, w1, w2, s]) => {
      if (kind === 0)
        return scalar.map((v) => ({ text: `${name}:${w1}${v.raw}${s}`, checks: [{ path, name, value: v.value }] }));
      if (kind === 3)
        return fc.array(scalar, { minLength: 1, maxLength: 3 }).map((vs) => ({
          text: `${name}: [${vs.map((v) => v.raw).join(`,${w1}`)}]${s}`,
          checks: vs.map((v) => ({ path, name, value: v.value })),
        }));
      const colon = kind === 2 ? ':' : '';
      return messageBody(depth - 1, [...path, name]).map((b) => ({
        text: `${name}${colon}${w1}{${w2}${b.text}${w2}}`,
        checks: b.checks,
      }));
    });
  return fc
    .array(fc.tuple(field, ws), { maxLength: 5 })
    .map((fs) => ({ text: fs.map(([f, w]) => f.text + w).join(''), checks: fs.flatMap(([f]) => f.checks) }));
}

const document = fc
  .tuple(
    fc.constantFrom('', '\n', '# header\n# more\n', '\ufeff'),
    messageBody(3, []),
    fc.constantFrom('', '\n', '# end'),
  )
  .map(([a, b, c]) => ({ text: a + b.text + c, checks: b.checks }));

function resolvePath(root: PtMessage, path: string[]): PtMessage[] {
  let ms = [root];
  for (const p of path) ms = ms.flatMap((m) => messages(m, p));
  return ms;
}

describe('prototxt: round trip', () => {
  it('print(parse(x)) === x for generated texts, and the readers decode what was generated', () => {
    fc.assert(
      fc.property(document, ({ text, checks }) => {
        const doc = parsePrototxt(text);
        expect(printPrototxt(doc)).toBe(text);
        for (const c of checks) {
          const ms = resolvePath(doc.root, c.path);
          const want = c.value;
          if (typeof want === 'number') {
            const seen = ms.flatMap((m) => nums(m, c.name));
            expect(seen.some((v) => Object.is(v, want) || Math.abs(v - want) <= Math.abs(want) * 1e-12)).toBe(true);
          } else expect(ms.flatMap((m) => strs(m, c.name))).toContain(want);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('truncated or brace-damaged texts throw CaffeFoldError with a line:col inside the text', () => {
    fc.assert(
      fc.property(
        document.filter((d) => d.text.includes('{')),
        fc.nat(),
        (d, k) => {
          const braces = [...d.text.matchAll(/[{}]/g)].map((m) => m.index!);
          const at = braces[k % braces.length];
          const broken = d.text.slice(0, at) + d.text.slice(at + 1);
          try {
            parsePrototxt(broken);
          } catch (e) {
            if (!isCaffeFoldError(e)) throw e;
            expect(e.code).toBe('prototxt-syntax');
            const w = e.where!;
            expect(w.kind).toBe('text');
            if (w.kind === 'text') expect(w.offset).toBeLessThanOrEqual(broken.length);
            return;
          }
          // Deleting a brace can leave valid text only if the braces were inside a string or comment.
          expect(broken.split('{').length !== broken.split('}').length || /["'#]/.test(d.text)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  describe.skipIf(!haveCorpus)('the shared corpus', () => {
    for (const f of corpus)
      it(`${f} round-trips byte for byte`, () => expect(printPrototxt(parsePrototxt(read(f)))).toBe(read(f)));

    it('reads real content', () => {
      const r50 = parsePrototxt(read('resnet50_deploy.prototxt'));
      const layers = messages(r50.root, 'layer');
      expect(layers.filter((l) => str(l, 'type') === 'BatchNorm')).toHaveLength(53);
      expect(nums(r50.root, 'input_dim')).toEqual([1, 3, 224, 224]);
      expect(bool(message(layers[1], 'batch_norm_param')!, 'use_global_stats')).toBe(true);
      const alex = parsePrototxt(read('bvlc_alexnet_deploy_v1_layers.prototxt'));
      expect(messages(alex.root, 'layers').map((l) => str(l, 'type'))).toContain('CONVOLUTION');
      const sq = read('squeezenet_v1_1_deploy.prototxt');
      expect(sq.startsWith('#')).toBe(true);
      expect(parsePrototxt(sq).root.fields[0].name).not.toBe('#');
      const pva = read('pvanet_faster_rcnn_test.prototxt');
      expect(pva).toMatch(/weight_filler: \{/);
      const pl = messages(parsePrototxt(pva).root, 'layer').find(
        (l) => message(l, 'convolution_param') && message(message(l, 'convolution_param')!, 'weight_filler'),
      );
      expect(pl).toBeDefined();
    });
  });
});

describe('prototxt: forms', () => {
  it('accepts every form found in real files', () => {
    const text = [
      '\ufeff# leading comment',
      "name: 'single \\'quoted\\'' # trailing",
      'input: "data"',
      'input_dim: 1 input_dim: 3',
      'input_shape { dim: 1 dim: 3 }',
      'layers { name: "v1" type: CONVOLUTION blobs_lr: 1 }',
      'layer {',
      '  name: "a" "b"',
      '  top: "\\x41\\101\\n"',
      '  param { lr_mult: 1 } param: { lr_mult: 2 };',
      '  convolution_param: { kernel_size: [3, 5] pad: .5 stride: 5. }',
      '  batch_norm_param < eps: 1e-5 moving_average_fraction: 0.5f >',
      '  threshold_param { threshold: -inf }',
      '  x: nan y: -INF z: 0x1f w: +3',
      '}layer { name: "c" }',
    ].join('\r\n');
    const doc = parsePrototxt(text);
    expect(printPrototxt(doc)).toBe(text);
    expect(str(doc.root, 'name')).toBe("single 'quoted'");
    expect(nums(doc.root, 'input_dim')).toEqual([1, 3]);
    const [l1, l2] = messages(doc.root, 'layer');
    expect(str(l1, 'name')).toBe('ab');
    expect(str(l1, 'top')).toBe('AA\n');
    expect(messages(l1, 'param').map((p) => num(p, 'lr_mult'))).toEqual([1, 2]);
    expect(nums(message(l1, 'convolution_param')!, 'kernel_size')).toEqual([3, 5]);
    expect(num(message(l1, 'convolution_param')!, 'pad')).toBe(0.5);
    expect(num(message(l1, 'batch_norm_param')!, 'moving_average_fraction')).toBe(0.5);
    expect(num(message(l1, 'threshold_param')!, 'threshold')).toBe(-Infinity);
    expect(num(l1, 'x')).toBeNaN();
    expect([num(l1, 'y'), num(l1, 'z'), num(l1, 'w')]).toEqual([-Infinity, 31, 3]);
    expect(str(l2, 'name')).toBe('c');
    expect(str(messages(doc.root, 'layers')[0], 'type')).toBe('CONVOLUTION');
  });

  it('syntax errors name line:col and what was expected', () => {
    expect(syntaxError('layer {\n  name: "x"\n').message).toBe(
      'x.prototxt:3:1: Expected \'}\' to close "layer" opened at 1:7, found end of file. A closing brace is missing.',
    );
    expect(syntaxError('layer {\n  name "x"\n}').message).toMatch(
      /^x\.prototxt:2:8: Expected ':' or '\{' after "name", found/,
    );
    expect(syntaxError('name: "abc\nlayer {}').message).toMatch(/^x\.prototxt:1:7: Unterminated string/);
    expect(syntaxError('a: 1\n}\n').message).toMatch(/^x\.prototxt:2:1: Unexpected "}"/);
    expect(syntaxError('a:\n').message).toMatch(/^x\.prototxt:2:1: Expected a value for "a", found end of file\./);
    expect(syntaxError('b { a: }').message).toMatch(/^x\.prototxt:1:8: Expected a value for "a", found "}"\./);
    expect(syntaxError('a: [1, 2\n').message).toMatch(/Expected ',' or '\]'|Expected '\]'/);
    expect(syntaxError('a { b: 1 ]').message).toMatch(/^x\.prototxt:1:10: Expected '}' to close "a" opened at 1:3/);
    expect(syntaxError('a: 12abc').message).toMatch(/Malformed number/);
    expect(syntaxError('@').message).toMatch(/^x\.prototxt:1:1: Expected a field name, found "@"/);
  });

  it('deep nesting is refused, not a stack overflow', () => {
    const deep = 'a {'.repeat(5000) + '}'.repeat(5000);
    expect(syntaxError(deep).message).toMatch(/nested more than 100 deep/);
  });

  // Its speed is npm run bench's business (the parse phase); a timed test would fail on a busy machine.
  it('parses a 5 MB file of 37,879 layers', () => {
    const layer =
      'layer {\n  name: "conv"\n  type: "Convolution"\n  bottom: "data"\n  top: "conv"\n  convolution_param { num_output: 64 kernel_size: 3 }\n}\n';
    const big = layer.repeat(Math.ceil(5e6 / layer.length));
    const doc = parsePrototxt(big);
    expect(fields(doc.root, 'layer').length).toBe(Math.ceil(5e6 / layer.length));
  });
});

describe('prototxt: editor', () => {
  const tabbed =
    'name: "n"\n\nlayer {\n\tname: "conv"\n\ttop: "conv"\n\tconvolution_param {\n\t\tnum_output: 4\n\t}\n}\n\nlayer {\n\tname: "bn"\n\ttype: "BatchNorm"\n}\n\nlayer {\n\tname: "relu"\n}\n';

  it('removing a layer removes exactly its lines (and one blank separator)', () => {
    const doc = parsePrototxt(tabbed);
    const bn = fields(doc.root, 'layer')[1];
    const out = new PrototxtEditor(doc).remove(bn).toString();
    expect(out).toBe(
      'name: "n"\n\nlayer {\n\tname: "conv"\n\ttop: "conv"\n\tconvolution_param {\n\t\tnum_output: 4\n\t}\n}\n\nlayer {\n\tname: "relu"\n}\n',
    );
  });

  it("set / setIn follow the file's indentation (tabs)", () => {
    const doc = parsePrototxt(tabbed);
    const conv = messages(doc.root, 'layer')[0];
    const out = new PrototxtEditor(doc)
      .setIn(conv, 'convolution_param', 'bias_term', 'true')
      .set(conv, 'bottom', '"data"')
      .toString();
    expect(out).toContain('\tconvolution_param {\n\t\tnum_output: 4\n\t\tbias_term: true\n\t}\n\tbottom: "data"\n}');
    // Everything else is untouched.
    expect(out.replace('\n\t\tbias_term: true', '').replace('\n\tbottom: "data"', '')).toBe(tabbed);
  });

  it("setIn creates a missing block with the file's indent unit (2 spaces) and works on one-line blocks", () => {
    const text = 'layer {\n  name: "fc"\n  type: "InnerProduct"\n}\nlayer { name: "x" scale_param { axis: 1 } }\n';
    const doc = parsePrototxt(text);
    const [fc1, x] = messages(doc.root, 'layer');
    const out = new PrototxtEditor(doc)
      .setIn(fc1, 'inner_product_param', 'bias_term', 'true')
      .setIn(x, 'scale_param', 'bias_term', 'true')
      .toString();
    expect(out).toBe(
      'layer {\n  name: "fc"\n  type: "InnerProduct"\n  inner_product_param {\n    bias_term: true\n  }\n}\nlayer { name: "x" scale_param { axis: 1 bias_term: true } }\n',
    );
    expect(bool(message(messages(parsePrototxt(out).root, 'layer')[0], 'inner_product_param')!, 'bias_term')).toBe(
      true,
    );
  });

  it('replacing a value touches only its span; `}layer {` on one line; CRLF kept', () => {
    const text = 'layer {\r\n  name: "a"\r\n  top: "a"\r\n}layer {\r\n  name: "b"\r\n}\r\n';
    const doc = parsePrototxt(text);
    const [a, b] = fields(doc.root, 'layer');
    const top = fields(a.value as PtMessage, 'top')[0];
    const out = new PrototxtEditor(doc)
      .setRaw(top.value as never, '"renamed"')
      .remove(b)
      .toString();
    expect(out).toBe('layer {\r\n  name: "a"\r\n  top: "renamed"\r\n}\r\n');
    const out2 = new PrototxtEditor(doc).set(b.value as PtMessage, 'type', '"ReLU"').toString();
    expect(out2).toBe('layer {\r\n  name: "a"\r\n  top: "a"\r\n}layer {\r\n  name: "b"\r\n  type: "ReLU"\r\n}\r\n');
  });

  it('an edit inside a removed block is dropped with it', () => {
    const doc = parsePrototxt(tabbed);
    const conv = fields(doc.root, 'layer')[0];
    const out = new PrototxtEditor(doc)
      .set(conv.value as PtMessage, 'name', '"x"')
      .remove(conv)
      .toString();
    expect(out).not.toContain('conv');
  });

  it.skipIf(!haveCorpus)('edits on ResNet-50 (tabs) keep the untouched text byte for byte', () => {
    const text = read('resnet50_deploy.prototxt');
    const doc = parsePrototxt(text);
    const layers = fields(doc.root, 'layer');
    const ed = new PrototxtEditor(doc);
    ed.remove(layers[1]).remove(layers[2]);
    ed.setIn(layers[3].value as PtMessage, 'relu_param', 'negative_slope', '0.1');
    const out = ed.toString();
    const reparsed = parsePrototxt(out);
    expect(fields(reparsed.root, 'layer').length).toBe(layers.length - 2);
    const start = layers[1].span.start;
    expect(out.slice(0, start - 1)).toBe(text.slice(0, start - 1));
    expect(out.endsWith(text.slice(layers[4].span.start))).toBe(true);
    expect(out).toContain('\trelu_param {\n\t\tnegative_slope: 0.1\n\t}\n');
  });
});
