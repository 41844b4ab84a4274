/**
 * The structural proof and chain placement: a blob name is not a value. Regression tests for the rewiring bug
 * (a merged BN+Scale read the blob after an in-place ReLU had overwritten it) and its relatives.
 */
import { describe, expect, it } from 'vitest';
import { foldLoaded, loadFiles } from '../src/core/pipeline';
import { isCaffeFoldError } from '../src/core/errors';
import { buildNet } from '../src/core/net';
import { parsePrototxt } from '../src/core/prototxt';
import { proveStructure } from '../src/core/fold/apply';
import { checkWiring, rewire, valueModel, type Placement } from '../src/core/fold/wiring';
import { caffemodelOf, prototxtOf, type TestNet } from './build';
import { chainNet, chainNets, REPRODUCER } from './chains';

const enc = new TextEncoder();
const load = (net: TestNet) =>
  loadFiles(
    { name: 'net.prototxt', bytes: enc.encode(prototxtOf(net)) },
    { name: 'net.caffemodel', bytes: caffemodelOf(net) },
  );
const layerNames = (text: string) => buildNet(parsePrototxt(text)).layers.map((l) => l.name);

describe('the reproducer: BN+Scale merged across an in-place ReLU', () => {
  it("the merged Scale takes the BatchNorm's place, where it reads the value the BatchNorm read", () => {
    const r = foldLoaded(load(REPRODUCER)).report;
    expect(r.chains.map((c) => [c.pattern, c.moveTo])).toEqual([['bn-scale', 'bn']]);
    const out = foldLoaded(load(REPRODUCER));
    expect(layerNames(out.prototxt.text)).toEqual(['conv', 'sc', 'relu_x', 'sum']);
    const sc = buildNet(parsePrototxt(out.prototxt.text)).byName.get('sc')!;
    expect(sc.bottoms).toEqual(['x']);
    expect(sc.bottomRefs[0].version).toBe(0); // conv's x, not relu_x's
    expect(r.structure.passed).toBe(true);
    expect(r.structure.outputs).toEqual(['out']);
  });

  it("left at the Scale's place (the old rewrite), the wiring check names the layer and the blob", () => {
    const l = load(REPRODUCER);
    const chain = l.analysis.chains[0];
    const atScale: Placement[] = [{ chain: { ...chain, moveTo: undefined }, at: chain.target }];
    const problem = checkWiring(valueModel(l.net), atScale, rewire(l.net, atScale), ['data']);
    expect(problem?.layer).toBe('sc');
    expect(problem?.blob).toBe('x');
    expect(problem?.message).toMatch(/ReLU "relu_x".*Convolution "conv"/);
  });

  it("the proof of the written text refuses the old rewrite's output, naming layer and blob", () => {
    const l = load(REPRODUCER);
    const chain = l.analysis.chains[0];
    const oldText = prototxtOf({
      ...REPRODUCER,
      layers: REPRODUCER.layers
        .filter((x) => x.name !== 'bn')
        .map((x) => (x.name === 'sc' ? { ...x, bottoms: ['x'] } : x)),
    });
    let err: unknown;
    try {
      proveStructure(l.net, oldText, [{ chain: { ...chain, moveTo: undefined }, at: chain.target }]);
    } catch (e) {
      err = e;
    }
    expect(isCaffeFoldError(err) && err.code).toBe('fold-structure');
    expect(String(err)).toMatch(/layer "sc".*blob "x"|blob "x".*layer "sc"/s);
  });

  it('the proof also refuses a text whose layers were reordered, dropped or retyped', () => {
    const l = load(REPRODUCER);
    const placements = l.analysis.chains.map((chain) => ({ chain, at: chain.moveTo ?? chain.target }));
    const good = foldLoaded(load(REPRODUCER)).prototxt.text;
    expect(() => proveStructure(l.net, good, placements)).not.toThrow();
    const swapped = good.replace(/layer \{\s*name: "relu_x"[^}]*\}\s*/, '');
    expect(() => proveStructure(l.net, swapped, placements)).toThrow(/relu_x/);
    const retyped = good.replace('type: "ReLU"', 'type: "Sigmoid"');
    expect(() => proveStructure(l.net, retyped, placements)).toThrow(/Sigmoid/);
    const rewired = good.replace('bottom: "x"\n  bottom: "x_sc"', 'bottom: "x_sc"\n  bottom: "x"');
    expect(rewired).not.toBe(good);
    expect(() => proveStructure(l.net, rewired, placements)).toThrow(/"sum"/);
  });
});

describe('relatives: every producer type, BN and Scale in place or not, writers between, branches, joins', () => {
  for (const { label, net } of chainNets()) {
    it(label, () => {
      const out = foldLoaded(load(net));
      const r = out.report;
      // Either folded with the structure proven, or refused with a reason; never wrong.
      expect(r.structure.passed).toBe(true);
      expect(r.chains.length + r.refusals.length).toBeGreaterThan(0);
      for (const x of r.refusals) expect(x.reason.length).toBeGreaterThan(10);
      const folded = buildNet(parsePrototxt(out.prototxt.text));
      // Whatever folded, every surviving layer reads a blob that exists when it runs.
      expect(folded.layers.length).toBe(net.layers.length - r.removedLayers.length);
    });
  }
});

describe('TRAIN phase: BatchNorm uses batch statistics unless use_global_stats says otherwise', () => {
  const net = (state: string, bnText?: string): TestNet => ({
    ...chainNet('Convolution', true, true, 'none'),
    layers: chainNet('Convolution', true, true, 'none').layers.map((l) =>
      l.name === 'bn' && bnText ? { ...l, text: bnText } : l,
    ),
    name: state,
  });
  const withState = (n: TestNet, state: string) => ({
    name: 'net.prototxt',
    bytes: enc.encode(prototxtOf(n).replace(/^name: .*\n/, (m) => m + state + '\n')),
  });

  it('a net in state { phase: TRAIN } refuses its BatchNorm, saying why', () => {
    const n = net('train');
    const l = loadFiles(withState(n, 'state { phase: TRAIN }'), { name: 'w', bytes: caffemodelOf(n) });
    expect(l.net.phase).toBe('TRAIN');
    expect(l.analysis.chains).toEqual([]);
    const bn = l.analysis.refusals.find((r) => r.layer === 'bn');
    expect(bn?.code).toBe('bn-batch-stats');
    expect(bn?.reason).toMatch(/TRAIN/);
  });

  it('a BatchNorm whose own phase is TRAIN is refused in a TEST net', () => {
    const n = net('own', 'phase: TRAIN');
    const l = loadFiles({ name: 'n', bytes: enc.encode(prototxtOf(n)) }, { name: 'w', bytes: caffemodelOf(n) });
    expect(l.net.layers.map((x) => x.name)).toContain('bn'); // the phase field does not filter the layer out
    expect(l.analysis.refusals.find((r) => r.layer === 'bn')?.code).toBe('bn-batch-stats');
  });

  it('use_global_stats: true in a TRAIN net folds; the TEST default folds', () => {
    const n = net('explicit', 'batch_norm_param { use_global_stats: true }');
    const l = loadFiles(withState(n, 'state { phase: TRAIN }'), { name: 'w', bytes: caffemodelOf(n) });
    expect(l.analysis.chains.map((c) => c.pattern)).toEqual(['producer-bn-scale']);
    const t = net('test');
    expect(load(t).analysis.chains.map((c) => c.pattern)).toEqual(['producer-bn-scale']);
  });
});

describe('names', () => {
  it('a chain whose layer name is not unique is refused (weights and edits go by name)', () => {
    const n = chainNet('Convolution', false, false, 'none');
    n.layers.push({ name: 'bn', type: 'ReLU', bottoms: ['z'], tops: ['r'] });
    const l = load(n);
    expect(l.analysis.chains).toEqual([]);
    expect(l.analysis.refusals.map((r) => r.code)).toContain('layer-name-ambiguous');
  });
});
