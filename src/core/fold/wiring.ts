/**
 * The structural proof: does the rewritten net wire the same values to the same places as the original?
 *
 * In Caffe a blob name is not a value: a layer that writes a name (in place or not) makes a new version of it,
 * and every later reader of the name sees that version. So we name values, not blobs: the value a layer writes
 * at top j is `L<i>:<j>` (i its index in the original net), a net input is `in:<name>`. Evaluating a net in
 * file order, with a map from blob name to the value it currently holds, tells which value every layer reads.
 *
 * The folded net is right, structurally, when evaluating it gives every kept layer exactly the values it read in
 * the original, in the same order, and leaves the same values as net outputs under the same names — where a
 * folded chain's surviving layer reads what the chain's first layer read and writes what its last layer wrote.
 * (That the surviving layer computes what the chain computed is the per-chain proof's job.) Linear in the layers.
 */
import type { Net, NetLayer } from '../net';
import type { Chain } from './types';

/** A layer as the wiring sees it: what it reads and writes, by name, and which original layer it stands for. */
export interface WireLayer {
  /** Index of the original layer it stands for (for a chain's surviving layer: the target's). */
  origin: number;
  name: string;
  bottoms: string[];
  tops: string[];
}

/** Where a folded chain's surviving layer goes in the file. */
export interface Placement {
  chain: Chain;
  /** The layer whose position the surviving layer takes: its own (the target's), or the BatchNorm's. */
  at: string;
}

export interface WiringProblem {
  /** The layer of the folded net where the difference shows. */
  layer: string;
  /** The blob involved. */
  blob: string;
  /** One sentence: what the folded net would do, against what the original does. */
  message: string;
}

/** What the original computes, by value: what each layer reads and writes, and the net outputs. */
export interface ValueModel {
  net: Net;
  reads: string[][];
  writes: string[][];
  /** Net output name → the value it holds. */
  outputs: Map<string, string>;
  inputs: string[];
}

const layerValue = (i: number, j: number) => `L${i}:${j}`;
const inputValue = (name: string) => `in:${name}`;

/** The original net's values: every layer's reads and writes, and its outputs, by evaluating it once. */
export function valueModel(net: Net): ValueModel {
  const valueOf = new Map<string, string>();
  for (const i of net.inputs) valueOf.set(i.ref.id, inputValue(i.name));
  const reads: string[][] = [];
  const writes: string[][] = [];
  for (const l of net.layers) {
    reads.push(l.bottomRefs.map((r) => valueOf.get(r.id)!));
    writes.push(
      l.topRefs.map((r, j) => {
        const v = layerValue(l.index, j);
        valueOf.set(r.id, v);
        return v;
      }),
    );
  }
  const outputs = new Map(net.outputs.map((r) => [r.name, valueOf.get(r.id)!]));
  return { net, reads, writes, outputs, inputs: net.inputs.map((i) => i.name) };
}

/** The original layers each folded chain absorbs into its surviving layer, by the surviving layer's index. */
function survivors(net: Net, placements: Placement[]): Map<number, Chain> {
  const m = new Map<number, Chain>();
  for (const p of placements) m.set(net.byName.get(p.chain.target)!.index, p.chain);
  return m;
}

/**
 * The folded net's wiring as the fold will write it, without writing it: removed layers gone, each surviving layer
 * reading what its chain's first layer read and writing the name its chain's last layer wrote, at its placement.
 */
export function rewire(net: Net, placements: Placement[]): WireLayer[] {
  const removed = new Set<number>();
  const moved = new Map<number, NetLayer>();
  for (const p of placements) {
    for (const n of p.chain.removed) removed.add(net.byName.get(n)!.index);
    const target = net.byName.get(p.chain.target)!;
    if (p.at !== p.chain.target) moved.set(net.byName.get(p.at)!.index, target);
  }
  const bySurvivor = survivors(net, placements);
  const out: WireLayer[] = [];
  const emit = (l: NetLayer) => {
    const chain = bySurvivor.get(l.index);
    if (!chain) {
      out.push({ origin: l.index, name: l.name, bottoms: l.bottoms, tops: l.tops });
      return;
    }
    const first = net.byName.get(chain.layers[0])!;
    out.push({ origin: l.index, name: l.name, bottoms: first.bottoms, tops: [chain.outputTop] });
  };
  const movedAway = new Set([...moved.values()].map((l) => l.index));
  for (const l of net.layers) {
    const arriving = moved.get(l.index);
    if (arriving) emit(arriving);
    if (removed.has(l.index) || movedAway.has(l.index)) continue;
    emit(l);
  }
  return out;
}

/** Names a value for a person: "the output of Convolution "conv" (top "x")", or "net input "data"". */
function describe(model: ValueModel, value: string | undefined): string {
  if (value === undefined) return 'nothing (no layer or input has written it yet)';
  if (value.startsWith('in:')) return `net input "${value.slice(3)}"`;
  const [i, j] = value.slice(1).split(':').map(Number);
  const l = model.net.layers[i];
  return `the output of ${l.type} "${l.name}" (top "${l.tops[j]}")`;
}

/**
 * Evaluate the folded wiring and compare it with the original's values. Returns the first difference, or
 * undefined when every kept layer reads what it read before and the net outputs are the same values.
 */
export function checkWiring(
  model: ValueModel,
  placements: Placement[],
  folded: WireLayer[],
  foldedInputs: string[],
): WiringProblem | undefined {
  const { net } = model;
  const bySurvivor = survivors(net, placements);
  const expectedReads = (i: number) => {
    const chain = bySurvivor.get(i);
    return chain ? model.reads[net.byName.get(chain.layers[0])!.index] : model.reads[i];
  };
  const expectedWrites = (i: number) => {
    const chain = bySurvivor.get(i);
    return chain ? [model.writes[net.byName.get(chain.layers[chain.layers.length - 1])!.index][0]] : model.writes[i];
  };

  const missingInput =
    model.inputs.find((n) => !foldedInputs.includes(n)) ?? foldedInputs.find((n) => !model.inputs.includes(n));
  if (missingInput !== undefined) {
    return {
      layer: '(net inputs)',
      blob: missingInput,
      message: `the net inputs differ: "${missingInput}" is an input of only one of the two nets`,
    };
  }
  const current = new Map<string, { value: string; read: boolean }>();
  for (const n of foldedInputs) current.set(n, { value: inputValue(n), read: false });

  for (const l of folded) {
    const want = expectedReads(l.origin);
    if (l.bottoms.length !== want.length) {
      return {
        layer: l.name,
        blob: l.bottoms.join(', '),
        message: `layer "${l.name}" reads ${l.bottoms.length} blob(s) in the folded net, ${want.length} in the original`,
      };
    }
    for (let k = 0; k < want.length; k++) {
      const got = current.get(l.bottoms[k]);
      if (got?.value !== want[k]) {
        return {
          layer: l.name,
          blob: l.bottoms[k],
          message: `layer "${l.name}" would read "${l.bottoms[k]}" as ${describe(model, got?.value)} instead of ${describe(model, want[k])}`,
        };
      }
      got.read = true;
    }
    const writes = expectedWrites(l.origin);
    if (l.tops.length !== writes.length) {
      return {
        layer: l.name,
        blob: l.tops.join(', '),
        message: `layer "${l.name}" writes ${l.tops.length} blob(s) in the folded net, ${writes.length} in the original`,
      };
    }
    l.tops.forEach((t, j) => current.set(t, { value: writes[j], read: false }));
  }

  return outputProblem(model, current);
}

/** After the folded net ran: its outputs must be the original's values under the same names, and no more. */
function outputProblem(
  model: ValueModel,
  current: Map<string, { value: string; read: boolean }>,
): WiringProblem | undefined {
  for (const [name, value] of model.outputs) {
    const got = current.get(name);
    if (!got || got.read || got.value !== value) {
      return {
        layer: '(net outputs)',
        blob: name,
        message: `net output "${name}" would be ${got && !got.read ? describe(model, got.value) : 'gone (read by a layer, or never written)'} instead of ${describe(model, value)}`,
      };
    }
  }
  for (const [name, got] of current) {
    if (!got.read && !model.outputs.has(name)) {
      return {
        layer: '(net outputs)',
        blob: name,
        message: `the folded net would have an extra output "${name}" (${describe(model, got.value)}), which the original reads or overwrites`,
      };
    }
  }
  return undefined;
}

/**
 * Caffe's own rule for tops (Net::AppendTop): a layer may write a name that exists only in place, as the bottom at
 * the same index; any other reuse is "produced by multiple sources" and Caffe refuses the net.
 */
export function topRuleViolation(
  layers: Pick<WireLayer, 'name' | 'bottoms' | 'tops'>[],
  inputs: string[],
): WiringProblem | undefined {
  const seen = new Set(inputs);
  for (const l of layers) {
    for (let j = 0; j < l.tops.length; j++) {
      const t = l.tops[j];
      if (seen.has(t) && l.bottoms[j] !== t) {
        return {
          layer: l.name,
          blob: t,
          message: `layer "${l.name}" writes "${t}", which exists already, and not in place (Caffe: "top blob produced by multiple sources")`,
        };
      }
      seen.add(t);
    }
  }
  return undefined;
}

/** The folded net's wiring as a parsed net: each layer matched to the original one of the same name (in order). */
export function wiringOf(original: Net, folded: Net, placements: Placement[]): WireLayer[] | WiringProblem {
  const removed = new Set(placements.flatMap((p) => p.chain.removed));
  const queue = new Map<string, number[]>();
  for (const l of original.layers) {
    if (removed.has(l.name) && original.byName.get(l.name) === l) continue;
    const q = queue.get(l.name);
    if (q) q.push(l.index);
    else queue.set(l.name, [l.index]);
  }
  const out: WireLayer[] = [];
  for (const l of folded.layers) {
    const origin = queue.get(l.name)?.shift();
    if (origin === undefined) {
      return {
        layer: l.name,
        blob: l.tops.join(', '),
        message: `the folded net has a layer "${l.name}" (${l.type}) that the original does not keep`,
      };
    }
    const type = original.layers[origin].type;
    if (type !== l.type)
      return {
        layer: l.name,
        blob: l.tops.join(', '),
        message: `layer "${l.name}" is a ${l.type} in the folded net but a ${type} in the original`,
      };
    out.push({ origin, name: l.name, bottoms: l.bottoms, tops: l.tops });
  }
  for (const [name, q] of queue) {
    if (q.length)
      return {
        layer: name,
        blob: original.layers[q[0]].tops.join(', '),
        message: `layer "${name}" (${original.layers[q[0]].type}) is missing from the folded net`,
      };
  }
  return out;
}
