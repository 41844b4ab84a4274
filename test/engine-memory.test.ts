/**
 * A model too big for OpenCV's WebAssembly memory (1 GiB) gives a clear message, never a crash of the process.
 * Its own file: the second test crashes the WebAssembly runtime on purpose, and vitest gives each file its own.
 */
import { describe, expect, it } from 'vitest';
import { encodeCaffemodel } from '../src/core/caffemodel';
import { openCvEngine } from '../src/cli/engine';
import { compareModels } from '../src/core/check';

/** One InnerProduct of about `mb` MB (+ a Scale, so there is something to pin). */
function big(mb: number) {
  const n = Math.floor((mb * 2 ** 20) / 4 / 192);
  const prototxt = new TextEncoder().encode(
    `input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: ${n} bias_term: false } }\nlayer { name: "s" type: "Scale" bottom: "fc" top: "fc" scale_param { bias_term: false } }`,
  );
  const caffemodel = encodeCaffemodel({
    layers: [
      {
        name: 'fc',
        type: 'InnerProduct',
        blobs: [{ data: new Float32Array(n * 192).fill(0.01), dtype: 'float32', shape: [n, 192] }],
      },
      { name: 's', type: 'Scale', blobs: [{ data: new Float32Array(n).fill(1), dtype: 'float32', shape: [n] }] },
    ],
  });
  return { prototxt, caffemodel };
}

describe('OpenCV in WebAssembly: memory', () => {
  it(
    'a model over a quarter of the 1 GiB is refused with a message, and the engine still works',
    { timeout: 300_000 },
    async () => {
      const engine = await openCvEngine();
      const m = big(300);
      const r = compareModels(engine, m, m, { timingRuns: 0 });
      expect(r.status).toBe('not-run');
      expect(r.reason).toMatch(
        /The model is too big for OpenCV in WebAssembly: its 30\d MB of weights need about 12\d\d MB while they are read, and WebAssembly memory is limited to 1024 MB/,
      );
      const small = big(1);
      expect(compareModels(engine, small, small, { timingRuns: 0 }).status).toBe('equal');
    },
  );

  it(
    'without that guard the runtime runs out of memory: not-run with why, and the engine refuses to be used again',
    { timeout: 300_000 },
    async () => {
      const engine = await openCvEngine({ memoryLimit: 2 ** 32 });
      const m = big(300);
      const r = compareModels(engine, m, m, { timingRuns: 0 });
      expect(r.status).toBe('not-run');
      expect(r.reason).toMatch(/WebAssembly runtime failed \(.*\); most likely it ran out of memory/);
      const small = big(1);
      expect(compareModels(engine, small, small, { timingRuns: 0 }).reason).toMatch(
        /failed earlier .* cannot be used again in this process/,
      );
    },
  );
});
