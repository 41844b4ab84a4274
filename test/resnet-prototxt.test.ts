/** The ResNet generator used for ResNet-152 (performance tests) writes the published files byte for byte. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resnetDeploy } from '../scripts/resnet-prototxt';
import { loadFiles } from '../src/core/pipeline';
import { CORPUS, haveCorpus } from './oracle';

describe('resnetDeploy', () => {
  it.skipIf(!haveCorpus)('ResNet-50 and ResNet-101 equal the corpus files byte for byte', () => {
    for (const d of [50, 101] as const)
      expect(resnetDeploy(d)).toBe(readFileSync(join(CORPUS, `resnet${d}_deploy.prototxt`), 'utf8'));
  });

  it('ResNet-152 has 670 layers and 155 Conv+BN+Scale chains', () => {
    const l = loadFiles({ name: 'resnet152_deploy.prototxt', bytes: new TextEncoder().encode(resnetDeploy(152)) });
    expect(l.net.layers.length).toBe(670);
    expect(l.analysis.chains.length).toBe(155);
    expect(new Set(l.analysis.chains.map((c) => c.label))).toEqual(new Set(['Conv+BN+Scale']));
    expect(l.net.layers.map((x) => x.name)).toContain('res4b35_branch2c');
    expect(l.shapes.get('prob@0')).toEqual([1, 1000]);
  });
});
