/**
 * The network model: the prototxt's layers after Caffe's phase rules, with in-place layers resolved into
 * versioned blobs. Caffe lets a layer write a top that has the same name as its bottom ("in place"); after it,
 * every reader of that name sees the new value. We give each write its own version (`conv1@0`, `conv1@1`, …)
 * so the analysis knows exactly which layer reads which value.
 */
import { CaffeFoldError } from '../errors';
import {
  fields,
  message,
  messages,
  nums,
  str,
  strs,
  num,
  lineCol,
  type PtDocument,
  type PtField,
  type PtMessage,
} from '../prototxt';
import { V1_TYPE_NAMES } from '../schema';

export interface BlobRef {
  name: string;
  version: number;
  /** `${name}@${version}` */
  id: string;
}

export interface NetLayer {
  /** Position among the included layers. */
  index: number;
  name: string;
  /** V2 type string (V1 enums are mapped, e.g. CONVOLUTION → Convolution). */
  type: string;
  v1Type?: string;
  bottoms: string[];
  tops: string[];
  bottomRefs: BlobRef[];
  topRefs: BlobRef[];
  /** A top has the same name as a bottom. */
  inPlace: boolean;
  /** The phase the layer runs in: its own `phase` field, else the net's (Caffe's Net::Init). */
  phase: 'TEST' | 'TRAIN';
  field: PtField;
  msg: PtMessage;
}

export interface NetInput {
  name: string;
  shape?: number[];
  ref: BlobRef;
}

export interface ExcludedLayer {
  name: string;
  type: string;
  reason: string;
  field: PtField;
}

export interface Net {
  doc: PtDocument;
  name?: string;
  /** The phase the net is built for: the file's `state { phase }`, TEST when it has none. */
  phase: 'TEST' | 'TRAIN';
  /** Which list the file uses: V2 `layer` or V1 `layers`. */
  format: 'layer' | 'layers';
  /** Net-level inputs (legacy `input:` with `input_dim`/`input_shape`). Input layers are ordinary layers. */
  inputs: NetInput[];
  layers: NetLayer[];
  /** Layers left out by the phase/stage/level rules, with why. */
  excluded: ExcludedLayer[];
  /** blob id → index of the producing layer, or -1 for a net input. */
  producer: Map<string, number>;
  /** blob id → indices of the layers that read it, in order. */
  consumers: Map<string, number[]>;
  /** The last version of every blob that no layer reads: the net's outputs. */
  outputs: BlobRef[];
  byName: Map<string, NetLayer>;
}

export interface NetState {
  phase?: 'TEST' | 'TRAIN';
  level?: number;
  stages?: string[];
}

const ref = (name: string, version: number): BlobRef => ({ name, version, id: `${name}@${version}` });

/** Caffe's NetStateRule check (net.cpp StateMeetsRule). */
function meetsRule(rule: PtMessage, state: Required<NetState>): boolean {
  const phase = str(rule, 'phase');
  if (phase !== undefined && phase !== state.phase) return false;
  const minLevel = num(rule, 'min_level');
  if (minLevel !== undefined && state.level < minLevel) return false;
  const maxLevel = num(rule, 'max_level');
  if (maxLevel !== undefined && state.level > maxLevel) return false;
  for (const s of strs(rule, 'stage')) if (!state.stages.includes(s)) return false;
  for (const s of strs(rule, 'not_stage')) if (state.stages.includes(s)) return false;
  return true;
}

function ruleText(rule: PtMessage): string {
  const parts: string[] = [];
  const phase = str(rule, 'phase');
  if (phase) parts.push(`phase ${phase}`);
  for (const s of strs(rule, 'stage')) parts.push(`stage ${s}`);
  for (const s of strs(rule, 'not_stage')) parts.push(`not stage ${s}`);
  const a = num(rule, 'min_level');
  if (a !== undefined) parts.push(`level ≥ ${a}`);
  const b = num(rule, 'max_level');
  if (b !== undefined) parts.push(`level ≤ ${b}`);
  return parts.join(', ') || 'empty rule';
}

/**
 * Returns why the layer is excluded in this state, or undefined when it is included. Only include/exclude rules
 * filter (Caffe's FilterNet); a layer's own `phase` field sets the phase it runs in, not whether it is there.
 */
export function exclusionReason(layer: PtMessage, state: Required<NetState>): string | undefined {
  const include = messages(layer, 'include');
  const exclude = messages(layer, 'exclude');
  if (include.length > 0) {
    if (!include.some((r) => meetsRule(r, state))) return `include { ${include.map(ruleText).join(' } or { ')} } does not match ${state.phase}`;
    return undefined;
  }
  for (const r of exclude) if (meetsRule(r, state)) return `exclude { ${ruleText(r)} } matches ${state.phase}`;
  return undefined;
}

/** Build the net in Caffe's TEST phase (by default), following the file's own `state` for level and stages. */
export function buildNet(doc: PtDocument, opts: NetState = {}): Net {
  const root = doc.root;
  const v2 = fields(root, 'layer');
  const v1 = fields(root, 'layers');
  if (v2.length > 0 && v1.length > 0) {
    const where = v1[0].nameSpan.start;
    throw new CaffeFoldError(
      'net-mixed-format',
      `the file mixes new "layer {" and old "layers {" blocks (${v2.length} and ${v1.length}); Caffe refuses such a net ("inconsistent NetParameter")`,
      textWhere(doc, where),
      'upgrade the old "layers" blocks with Caffe\'s upgrade_net_proto_text tool, or keep one form',
    );
  }
  const format: Net['format'] = v1.length > 0 ? 'layers' : 'layer';
  const fileState = message(root, 'state');
  const state: Required<NetState> = {
    phase: opts.phase ?? ((fileState && (str(fileState, 'phase') as 'TEST' | 'TRAIN' | undefined)) || 'TEST'),
    level: opts.level ?? (fileState ? num(fileState, 'level') ?? 0 : 0),
    stages: opts.stages ?? (fileState ? strs(fileState, 'stage') : []),
  };

  const version = new Map<string, number>();
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  const read = new Set<string>();
  const current = (name: string): BlobRef | undefined => {
    const v = version.get(name);
    return v === undefined ? undefined : ref(name, v);
  };
  const write = (name: string, by: number): BlobRef => {
    const v = version.has(name) ? version.get(name)! + 1 : 0;
    version.set(name, v);
    const r = ref(name, v);
    producer.set(r.id, by);
    return r;
  };

  const inputs: NetInput[] = [];
  const inputNames = strs(root, 'input');
  const dims = nums(root, 'input_dim');
  const shapes = messages(root, 'input_shape').map((m) => nums(m, 'dim'));
  inputNames.forEach((name, i) => {
    let shape: number[] | undefined = shapes[i];
    if (!shape && dims.length >= 4 * (i + 1)) shape = dims.slice(4 * i, 4 * i + 4);
    inputs.push({ name, shape, ref: write(name, -1) });
  });

  const layers: NetLayer[] = [];
  const excluded: ExcludedLayer[] = [];
  const byName = new Map<string, NetLayer>();
  const excludedTops = new Map<string, { name: string; type: string; reason: string }>();
  for (const f of format === 'layer' ? v2 : v1) {
    if (f.value.kind !== 'message') {
      throw new CaffeFoldError('net-bad-layer', `"${f.name}" must be a block { … }`, textWhere(doc, f.nameSpan.start), 'write the layer as layer { name: … type: … }');
    }
    const msg = f.value;
    const rawType = str(msg, 'type') ?? '';
    const v1Type = format === 'layers' ? rawType : undefined;
    const type = format === 'layers' ? V1_TYPE_NAMES[rawType] ?? rawType : rawType;
    const name = str(msg, 'name') ?? '';
    const why = exclusionReason(msg, state);
    if (why) {
      excluded.push({ name, type, reason: why, field: f });
      for (const t of strs(msg, 'top')) if (!version.has(t)) excludedTops.set(t, { name, type, reason: why });
      continue;
    }
    const index = layers.length;
    const bottoms = strs(msg, 'bottom');
    const tops = strs(msg, 'top');
    const bottomRefs = bottoms.map((b) => {
      const r = current(b);
      if (!r) {
        const ex = excludedTops.get(b);
        if (ex) {
          throw new CaffeFoldError(
            'net-training-only',
            `layer "${name}" (${type}) reads "${b}", which only ${ex.type} layer "${ex.name}" produces, and that layer is left out in the ${state.phase} phase (${ex.reason}): this looks like a training net`,
            textWhere(doc, f.nameSpan.start),
            'fold the deploy prototxt (the one with an Input layer or input_shape), not the train/val one',
          );
        }
        throw new CaffeFoldError(
          'net-unknown-bottom',
          `layer "${name}" (${type}) reads blob "${b}", which no earlier layer or input produces`,
          textWhere(doc, f.nameSpan.start),
          'check the bottom name for a typo, or that the producing layer comes first and is not excluded in the TEST phase',
        );
      }
      read.add(r.id);
      const list = consumers.get(r.id);
      if (list) list.push(index);
      else consumers.set(r.id, [index]);
      return r;
    });
    const topRefs = tops.map((t) => write(t, index));
    const layer: NetLayer = {
      index,
      name,
      type,
      v1Type,
      bottoms,
      tops,
      bottomRefs,
      topRefs,
      inPlace: tops.some((t) => bottoms.includes(t)),
      phase: layerPhase(msg) ?? state.phase,
      field: f,
      msg,
    };
    layers.push(layer);
    if (name && !byName.has(name)) byName.set(name, layer);
  }
  const outputs: BlobRef[] = [];
  for (const [name, v] of version) {
    const r = ref(name, v);
    if (!read.has(r.id)) outputs.push(r);
  }
  return { doc, name: str(root, 'name'), phase: state.phase, format, inputs, layers, excluded, producer, consumers, outputs, byName };
}

function layerPhase(msg: PtMessage): 'TEST' | 'TRAIN' | undefined {
  const p = str(msg, 'phase');
  return p === 'TEST' || p === 'TRAIN' ? p : undefined;
}

function textWhere(doc: PtDocument, offset: number) {
  return { kind: 'text' as const, file: doc.file, offset, ...lineCol(doc.text, offset) };
}
