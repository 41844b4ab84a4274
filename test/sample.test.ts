import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE_PROTOTXT, sampleCaffemodel } from '../scripts/make-sample';
import { loadFiles } from '../src/core/pipeline';
import { ROOT } from './oracle';

describe('the bundled sample model', () => {
  const proto = readFileSync(join(ROOT, 'public/sample/sample.prototxt'));
  const model = readFileSync(join(ROOT, 'public/sample/sample.caffemodel'));

  it('is what scripts/make-sample.ts makes (regenerate with npx tsx scripts/make-sample.ts)', () => {
    expect(proto.toString('utf8')).toBe(SAMPLE_PROTOTXT);
    expect(Buffer.concat(sampleCaffemodel()).equals(model)).toBe(true);
  });

  it('shows every kind of case: in place and not, depthwise, BN+Scale→Scale, one refusal, shapes for every blob', () => {
    const l = loadFiles({ name: 'sample.prototxt', bytes: proto }, { name: 'sample.caffemodel', bytes: model });
    expect(l.analysis.chains.map((c) => c.label)).toEqual([
      'Conv+BN+Scale',
      'Conv+BN+Scale',
      'Conv+BN+Scale',
      'BN+Scale→Scale',
      'Conv+BN+Scale',
      'Conv+BN+Scale',
      'Conv+BN+Scale',
    ]);
    expect(l.analysis.refusals).toEqual([expect.objectContaining({ layer: 'pool/bn', code: 'bn-input-not-foldable' })]);
    expect(l.net.byName.get('block3/expand/bn')!.inPlace).toBe(false);
    expect(l.net.byName.get('bn_conv1')!.inPlace).toBe(true);
    for (const layer of l.net.layers) for (const t of layer.topRefs) expect(l.shapes.has(t.id), t.id).toBe(true);
    expect(l.pairing).toEqual({ missing: [], unused: [] });
  });
});
