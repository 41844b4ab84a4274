/**
 * Fuzzing of everything a user can feed us: mutated prototxt texts, mutated caffemodels, and the whole pipeline.
 * Only our own typed errors (CaffeFoldError) may come out; every case is bounded in size and time.
 * The seed is printed; set FUZZ_SEED to replay a run, FUZZ_RUNS to change the number of cases per property.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { isCaffeFoldError } from '../src/core/errors';
import { parsePrototxt } from '../src/core/prototxt';
import { concatChunks, readCaffemodel } from '../src/core/caffemodel';
import { detectKind, foldLoaded, loadFiles } from '../src/core/pipeline';
import { buildNet } from '../src/core/net';
import { prototxtOf, caffemodelOf, blob, bnBlobs, type TestNet } from './build';
import { CORPUS } from './oracle';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2500);
// Property k runs with seed SEED + k: a failure report's own `seed` is that, not the one to replay with.
console.log(
  `[fuzz] seed ${SEED}, ${RUNS} cases per property (replay with FUZZ_SEED=${SEED}; fast-check reports SEED + 0…3 per property)`,
);

const enc = new TextEncoder();

/** Each case is bounded: every input here is a few kB, so a case that takes this long has gone quadratic or worse. */
const CASE_MS = 2000;

/** What a typed error says, and its hint: sentences (errors.test.ts holds the table to it; this, the real paths). */
const SENTENCE = /^[A-Z0-9].*[^\s]\.$/s;

/** Runs f; passes when it returns or throws a CaffeFoldError that reads as sentences, in bounded time; anything else fails the property. */
function onlyTypedErrors(f: () => unknown): boolean {
  const t = performance.now();
  try {
    f();
  } catch (e) {
    if (!isCaffeFoldError(e)) throw e;
    if (!SENTENCE.test(e.what) || (e.hint !== '' && !SENTENCE.test(e.hint)))
      throw new Error(`not sentences: ${e.message}`);
  }
  const ms = performance.now() - t;
  if (ms > CASE_MS) throw new Error(`a fuzz case took ${ms.toFixed(0)} ms (bound ${CASE_MS} ms)`);
  return true;
}

const seedTexts: string[] = [];
if (existsSync(CORPUS))
  for (const f of readdirSync(CORPUS))
    if (f.endsWith('.prototxt')) seedTexts.push(readFileSync(join(CORPUS, f), 'utf8').slice(0, 6000));
const small: TestNet = {
  input: { name: 'data', shape: [1, 3, 8, 8] },
  layers: [
    {
      name: 'c',
      type: 'Convolution',
      bottoms: ['data'],
      tops: ['c'],
      text: 'convolution_param { num_output: 4 kernel_size: 3 bias_term: false }',
      blobs: [blob([4, 3, 3, 3])],
    },
    { name: 'b', type: 'BatchNorm', bottoms: ['c'], tops: ['c'], blobs: bnBlobs(4).blobs },
    {
      name: 's',
      type: 'Scale',
      bottoms: ['c'],
      tops: ['c'],
      text: 'scale_param { bias_term: true }',
      blobs: [blob([4]), blob([4])],
    },
    { name: 'r', type: 'ReLU', bottoms: ['c'], tops: ['c'] },
    {
      name: 'fc',
      type: 'InnerProduct',
      bottoms: ['c'],
      tops: ['fc'],
      text: 'inner_product_param { num_output: 2 }',
      blobs: [blob([2, 144]), blob([2])],
    },
  ],
};
seedTexts.push(prototxtOf(small));
const smallModel = caffemodelOf(small);

const textMutation = (t: string) =>
  fc.oneof(
    fc.record({ at: fc.nat(t.length), len: fc.nat(20) }).map(({ at, len }) => t.slice(0, at) + t.slice(at + len)),
    fc
      .record({
        at: fc.nat(t.length),
        s: fc.constantFrom(
          '{',
          '}',
          '"',
          "'",
          ':',
          '[',
          ']',
          '#',
          '\\',
          '\n',
          '<',
          '>',
          ',',
          ';',
          '-',
          '.',
          'e',
          'inf',
          'nan',
          '0x',
          '\u0000',
          '\ufeff',
        ),
      })
      .map(({ at, s }) => t.slice(0, at) + s + t.slice(at)),
    fc.nat(t.length).map((at) => t.slice(0, at)),
    fc
      .record({ at: fc.nat(t.length), s: fc.string({ maxLength: 12 }) })
      .map(({ at, s }) => t.slice(0, at) + s + t.slice(at)),
  );

const bytesMutation = (b: Uint8Array) =>
  fc.oneof(
    fc.nat(b.length).map((n) => b.slice(0, n)),
    fc.record({ at: fc.nat(b.length - 1), v: fc.integer({ min: 0, max: 255 }) }).map(({ at, v }) => {
      const c = b.slice();
      c[at] = v;
      return c;
    }),
    fc.record({ at: fc.nat(b.length - 1), v: fc.uint8Array({ minLength: 1, maxLength: 10 }) }).map(({ at, v }) => {
      const c = b.slice();
      c.set(v.subarray(0, Math.min(v.length, c.length - at)), at);
      return c;
    }),
    // A lying length: a huge varint spliced in.
    fc.nat(b.length - 1).map((at) => {
      const c = new Uint8Array(b.length + 5);
      c.set(b.subarray(0, at));
      c.set([0xff, 0xff, 0xff, 0xff, 0x0f], at);
      c.set(b.subarray(at), at + 5);
      return c;
    }),
    fc.uint8Array({ maxLength: 300 }),
  );

describe('fuzz', () => {
  it('prototxt parser: mutated real texts parse or throw CaffeFoldError with a position', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...seedTexts).chain((t) => textMutation(t)),
        (t) => {
          try {
            const doc = parsePrototxt(t, 'f.prototxt');
            expect(doc.text).toBe(t);
          } catch (e) {
            if (!isCaffeFoldError(e)) throw e;
            expect(e.where?.kind).toBe('text');
          }
          return onlyTypedErrors(() => buildNet(parsePrototxt(t)));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('caffemodel reader: mutated models read or throw CaffeFoldError with a byte offset', () => {
    fc.assert(
      fc.property(bytesMutation(smallModel), (b) => {
        try {
          readCaffemodel(b, 'f.caffemodel');
        } catch (e) {
          if (!isCaffeFoldError(e)) throw e;
          if (e.where?.kind === 'binary') expect(e.where.offset).toBeLessThanOrEqual(b.length);
        }
        return onlyTypedErrors(() => detectKind(b));
      }),
      { seed: SEED + 1, numRuns: RUNS },
    );
  });

  it('whole pipeline: mutated pairs load and fold, or fail with CaffeFoldError', () => {
    const text = prototxtOf(small);
    fc.assert(
      fc.property(
        fc.oneof(textMutation(text), fc.constant(text)),
        fc.oneof(bytesMutation(smallModel), fc.constant(smallModel)),
        (t, b) => {
          let folded: { text: string; model: Uint8Array; layers: number } | undefined;
          onlyTypedErrors(() => {
            const l = loadFiles({ name: 'f.prototxt', bytes: enc.encode(t) }, { name: 'f.caffemodel', bytes: b });
            const r = foldLoaded(l);
            folded = {
              text: r.prototxt.text,
              model: concatChunks(r.caffemodel.chunks),
              layers: l.net.layers.length - r.report.removedLayers.length,
            };
          });
          // What a fold writes is a pair that loads again, whole: no error of any kind.
          if (folded)
            expect(
              loadFiles(
                { name: 'o.prototxt', bytes: enc.encode(folded.text) },
                { name: 'o.caffemodel', bytes: folded.model },
              ).net.layers.length,
            ).toBe(folded.layers);
          return true;
        },
      ),
      { seed: SEED + 2, numRuns: RUNS },
    );
  });

  it('detectKind: arbitrary bytes give a kind or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => onlyTypedErrors(() => detectKind(b))),
      { seed: SEED + 3, numRuns: RUNS },
    );
  });
});
