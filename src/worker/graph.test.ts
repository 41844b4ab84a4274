import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parsePrototxt } from '../core/prototxt';
import { buildNet } from '../core/net';
import { buildGraph, nodeSize, type NetLike } from './graph';
import { layoutGraph } from './layout';
import type { Analysis, GraphLayout } from './types';
import { resnetDeploy } from '../../scripts/resnet-prototxt';

const net = (text: string) => buildNet(parsePrototxt(text));
const input = `input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n`;
const conv = (name: string, bottom: string, top = name) =>
  `layer { name: "${name}" type: "Convolution" bottom: "${bottom}" top: "${top}" convolution_param { num_output: 4 kernel_size: 1 } }\n`;
const inplace = (name: string, type: string, blob: string) =>
  `layer { name: "${name}" type: "${type}" bottom: "${blob}" top: "${blob}" }\n`;

const chainAnalysis = (over: Partial<Analysis['chains'][number]>): Analysis => ({
  chains: [
    {
      id: 'c1',
      pattern: 'producer-bn-scale',
      label: 'Conv+BN+Scale',
      target: 'c1',
      producer: 'c1',
      bn: 'bn1',
      scale: 'sc1',
      layers: ['c1', 'bn1', 'sc1'],
      removed: ['bn1', 'sc1'],
      outputTop: 'c1',
      ...over,
    },
  ],
  refusals: [],
  warnings: [],
});

describe('buildGraph', () => {
  it('draws in-place layers as rows of their producer, and a chain badge on its first node', () => {
    const n = net(
      input +
        conv('c1', 'data') +
        inplace('bn1', 'BatchNorm', 'c1') +
        inplace('sc1', 'Scale', 'c1') +
        inplace('r1', 'ReLU', 'c1') +
        conv('c2', 'c1'),
    );
    const g = buildGraph(n, chainAnalysis({}), new Map([['c1@3', [1, 4, 8, 8]]]), 'before');
    expect(g.nodes.map((x) => x.layer)).toEqual(['data', 'c1', 'c2']);
    const c1 = g.nodes[1];
    expect(c1.rows.map((r) => [r.layer, r.removed ?? false])).toEqual([
      ['bn1', true],
      ['sc1', true],
      ['r1', false],
    ]);
    expect(c1.badge).toBe('Conv+BN+Scale');
    expect(c1.outShape).toBe('1×4×8×8');
    expect(g.layerNode.r1).toBe(c1.id);
    const e = g.edges.find((x) => x.target === g.nodes[2].id)!;
    expect(e.source).toBe(c1.id);
    expect(e.label).toBe('c1 · 1×4×8×8');
  });

  it('gives an in-place layer its own node when its input is also read by another layer (a fork)', () => {
    const n = net(
      input + conv('c1', 'data') + conv('side', 'c1', 'side') + inplace('r1', 'ReLU', 'c1') + conv('c2', 'c1'),
    );
    const g = buildGraph(n, undefined, new Map(), 'before');
    expect(g.nodes.map((x) => x.layer)).toEqual(['data', 'c1', 'side', 'r1', 'c2']);
    const r1 = g.nodes[3];
    expect(g.edges.filter((e) => e.target === r1.id).map((e) => e.source)).toEqual([g.nodes[1].id]);
    expect(g.edges.filter((e) => e.target === g.nodes[4].id).map((e) => e.source)).toEqual([r1.id]);
  });

  it('marks refused layers with their reason', () => {
    const n = net(input + conv('c1', 'data') + inplace('bn1', 'BatchNorm', 'c1'));
    const a: Analysis = {
      chains: [],
      refusals: [{ layer: 'bn1', type: 'BatchNorm', code: 'bn-batch-stats', reason: 'use_global_stats: false' }],
      warnings: [],
    };
    const g = buildGraph(n, a, new Map(), 'before');
    expect(g.nodes[1].rows[0].refused).toBe('use_global_stats: false');
  });

  it('sizes nodes from their content', () => {
    const base = {
      type: 'Convolution',
      layer: 'c',
      rows: [],
      badge: undefined,
      outShape: undefined,
      refused: undefined,
    };
    const one = nodeSize(base);
    const rows = nodeSize({ ...base, rows: [{ layer: 'r', type: 'ReLU', category: 'activation' }] });
    expect(rows.height).toBeGreaterThan(one.height);
    expect(nodeSize({ ...base, layer: 'a_really_long_layer_name_with_many_parts' }).width).toBeGreaterThan(one.width);
  });
});

describe('layoutGraph', () => {
  it('lays out top to bottom without overlaps, with routed edges and a frame around a chain that spans nodes', async () => {
    const text =
      input +
      conv('c1', 'data') +
      `layer { name: "bn1" type: "BatchNorm" bottom: "c1" top: "b1" }\n` +
      inplace('sc1', 'Scale', 'b1') +
      conv('c2', 'b1');
    const n = net(text);
    const model = buildGraph(n, chainAnalysis({ outputTop: 'b1' }), new Map(), 'before');
    const out = await layoutGraph(model);
    const ys = out.nodes.map((x) => x.y);
    expect([...ys].sort((a, b) => a - b)).toEqual(ys);
    for (const a of out.nodes)
      for (const b of out.nodes) {
        if (a === b) continue;
        const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
        expect(overlap).toBe(false);
      }
    for (const e of out.edges) expect(e.points.length).toBeGreaterThanOrEqual(2);
    expect(out.groups).toHaveLength(1);
    const g = out.groups[0];
    expect(g.label).toBe('Conv+BN+Scale');
    for (const id of g.nodeIds) {
      const m = out.nodes.find((x) => x.id === id)!;
      expect(m.x).toBeGreaterThan(g.x);
      expect(m.y + m.height).toBeLessThan(g.y + g.height);
    }
  });

  const R50 = resolve(__dirname, '../../../shared/corpus/prototxt/resnet50_deploy.prototxt');
  it.skipIf(!existsSync(R50))('lays out ResNet-50 as 74 nodes (in-place BN/Scale/ReLU as rows)', async () => {
    const n = net(readFileSync(R50, 'utf8'));
    const model = buildGraph(n as NetLike, undefined, new Map(), 'before');
    expect(model.nodes.length).toBe(74);
    expect(model.nodes.reduce((s, x) => s + 1 + x.rows.length, 0)).toBe(n.layers.length + n.inputs.length);
    const out = await layoutGraph(model);
    expect(out.width).toBeGreaterThan(0);
  });
});
describe('layoutGraph on ResNet-152 (generated, 670 layers)', () => {
  const n = net(resnetDeploy(152));
  const out: GraphLayout = layoutGraph(buildGraph(n as NetLike, undefined, new Map(), 'before'));
  const at = (layer: string) => out.nodes.find((x) => x.layer === layer)!;
  const cx = (layer: string) => at(layer).x + at(layer).width / 2;

  it('has no overlapping nodes, and every edge runs downwards from its source to its target', () => {
    const sorted = [...out.nodes].sort((a, b) => a.y - b.y || a.x - b.x);
    for (let i = 0; i < sorted.length; i++)
      for (let j = i + 1; j < sorted.length && sorted[j].y < sorted[i].y + sorted[i].height; j++) {
        const [a, b] = [sorted[i], sorted[j]];
        expect(a.x < b.x + b.width && b.x < a.x + a.width, `${a.layer} overlaps ${b.layer}`).toBe(false);
      }
    for (const e of out.edges) {
      const s = out.nodes.find((x) => x.id === e.source)!;
      const t = out.nodes.find((x) => x.id === e.target)!;
      expect(e.points[0].y).toBe(s.y + s.height);
      expect(e.points[e.points.length - 1].y).toBe(t.y);
      for (let i = 1; i < e.points.length; i++) {
        expect(e.points[i].y).toBeGreaterThanOrEqual(e.points[i - 1].y);
        // orthogonal: each segment is vertical or horizontal
        expect(e.points[i].x === e.points[i - 1].x || e.points[i].y === e.points[i - 1].y).toBe(true);
      }
    }
  });

  it('keeps a chain of layers in one column and puts an Eltwise between its two inputs', () => {
    for (const b of ['2b', '3b3', '4b20', '5c']) {
      expect(Math.abs(cx(`res${b}_branch2a`) - cx(`res${b}_branch2b`))).toBeLessThan(1);
      expect(Math.abs(cx(`res${b}_branch2b`) - cx(`res${b}_branch2c`))).toBeLessThan(1);
    }
    const mid = (cx('res3a_branch1') + cx('res3a_branch2c')) / 2;
    expect(Math.abs(cx('res3a') - mid)).toBeLessThan(1);
    // No drift down the net: the last block sits within a few pixels of the first (pulling each layer towards its
    // neighbours' median drifted ~600 px over ResNet-50 before dummies stood for their source).
    expect(Math.abs(cx('res5c') - cx('res2c'))).toBeLessThan(20);
    expect(out.width).toBeLessThan(700);
  });

  it('labels a blob read by several layers once', () => {
    const fromPool = out.edges.filter((e) => e.blob === 'pool1');
    expect(fromPool).toHaveLength(2);
    expect(fromPool.filter((e) => e.label !== '')).toHaveLength(1);
  });
});

if (!existsSync(resolve(__dirname, '../../../shared')))
  console.warn('../shared is absent: skipping the ResNet-50 layout test');
