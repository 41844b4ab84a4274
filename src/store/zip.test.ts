import { describe, expect, it } from 'vitest';
import { unzipSync } from 'fflate';
import { zipBlobs } from './zip';

describe('zipBlobs', () => {
  it('stores the blobs uncompressed and they unzip to the same bytes', async () => {
    const big = new Uint8Array(300_000).map((_, i) => (i * 31) & 255);
    const zip = await zipBlobs([
      { name: 'a_inference.prototxt', blob: new Blob(['name: "a"\n']) },
      { name: 'a_inference.caffemodel', blob: new Blob([big.subarray(0, 100_000), big.subarray(100_000)]) },
    ]);
    const bytes = new Uint8Array(await zip.arrayBuffer());
    expect(bytes.length).toBeGreaterThan(big.length);
    const files = unzipSync(bytes);
    expect(Object.keys(files)).toEqual(['a_inference.prototxt', 'a_inference.caffemodel']);
    expect(new TextDecoder().decode(files['a_inference.prototxt'])).toBe('name: "a"\n');
    expect(files['a_inference.caffemodel']).toEqual(big);
  });
});
