import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { blobRole, tensorStats } from './stats';

describe('tensorStats', () => {
  it('computes min, max, mean and population std', () => {
    const s = tensorStats(new Float32Array([1, 2, 3, 4]));
    expect([s.min, s.max, s.mean, s.count, s.nonFinite]).toEqual([1, 4, 2.5, 4, 0]);
    expect(s.std).toBeCloseTo(Math.sqrt(1.25), 12);
  });
  it('counts non-finite values apart', () => {
    const s = tensorStats([1, NaN, Infinity, 3]);
    expect([s.min, s.max, s.mean, s.nonFinite]).toEqual([1, 3, 2, 2]);
  });
  it('is shift-invariant in std and bounded by min/max (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 50 }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        (xs, k) => {
          const a = tensorStats(xs);
          const b = tensorStats(xs.map((x) => x + k));
          expect(a.mean).toBeGreaterThanOrEqual(a.min - 1e-9);
          expect(a.mean).toBeLessThanOrEqual(a.max + 1e-9);
          expect(Math.abs(a.std - b.std)).toBeLessThan(1e-6 * (1 + a.std));
        },
      ),
    );
  });
  it('names BatchNorm blobs as Caffe stores them', () => {
    expect([0, 1, 2].map((i) => blobRole('BatchNorm', i))).toEqual(['mean × factor', 'variance × factor', 'factor']);
    expect(blobRole('Convolution', 1)).toBe('bias');
  });
});
