import { describe, expect, it } from 'vitest';
import { foldCounts, isNodeSelected, searchLayers } from './selectors';
import type { Analysis } from '../worker/types';

const chain = (id: string, removed: string[]) => ({
  id,
  pattern: 'producer-bn-scale' as const,
  label: 'Conv+BN+Scale',
  target: id,
  layers: [id, ...removed],
  removed,
  outputTop: id,
});

describe('foldCounts', () => {
  const a: Analysis = {
    chains: [chain('a', ['a_bn', 'a_sc']), chain('b', ['b_bn'])],
    refusals: [{ layer: 'x', type: 'BatchNorm', code: 'bn-batch-stats', reason: 'r' }],
    warnings: [],
  };
  it('counts chains, removed layers and refusals, minus skipped chains', () => {
    expect(foldCounts(a, {})).toEqual({ chains: 2, foldable: 2, skipped: 0, removedLayers: 3, refused: 1 });
    expect(foldCounts(a, { a: true })).toEqual({ chains: 2, foldable: 1, skipped: 1, removedLayers: 1, refused: 1 });
    expect(foldCounts(undefined, {}).foldable).toBe(0);
  });
});

describe('searchLayers', () => {
  const nodes = [
    { id: 'n1', layer: 'conv1', type: 'Convolution', rows: [{ layer: 'bn_conv1', type: 'BatchNorm' }] },
    { id: 'n2', layer: 'pool1', type: 'Pooling', rows: [] },
    { id: 'n3', layer: 'res2a', type: 'Convolution', rows: [] },
  ];
  it('finds names (exact first), then types, including rows', () => {
    expect(searchLayers(nodes, 'conv1').map((h) => h.layer)).toEqual(['conv1', 'bn_conv1']);
    expect(searchLayers(nodes, 'BATCHNORM').map((h) => h.nodeId)).toEqual(['n1']);
    expect(searchLayers(nodes, 'convolution').map((h) => h.layer)).toEqual(['conv1', 'res2a']);
    expect(searchLayers(nodes, '  ')).toEqual([]);
  });
  it('selection matches layers and chains of a node', () => {
    expect(isNodeSelected({ kind: 'layer', name: 'bn_conv1' }, ['conv1', 'bn_conv1'], [])).toBe(true);
    expect(isNodeSelected({ kind: 'chain', id: 'c' }, ['conv1'], ['d'])).toBe(false);
  });
});
