/**
 * The network model: the prototxt's layers after Caffe's phase rules, with in-place layers resolved into
 * versioned blobs. Caffe lets a layer write a top that has the same name as its bottom ("in place"); after it,
 * every reader of that name sees the new value. We give each write its own version (`conv1@0`, `conv1@1`, …)
 * so the analysis knows exactly which layer reads which value.
 */
import { caffeError } from '../errors';
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
    if (!include.some((r) => meetsRule(r, state)))
      return `include { ${include.map(ruleText).join(' } or { ')} } does not match ${state.phase}`;
    return undefined;
  }
  for (const r of exclude) if (meetsRule(r, state)) return `exclude { ${ruleText(r)} } matches ${state.phase}`;
  return undefined;
}

/**
 * The net as it is being built: the blob versions so far and who writes and reads each, the layers taken and
 * left out. Layers are added in file order, each reading the versions its bottoms have at that point.
 */
interface Building {
  doc: PtDocument;
  state: Required<NetState>;
  format: Net['format'];
  /** blob name → its latest version */
  version: Map<string, number>;
  producer: Map<string, number>;
  consumers: Map<string, number[]>;
  /** ids of the blob versions some layer reads */
  read: Set<string>;
  layers: NetLayer[];
  excluded: ExcludedLayer[];
  byName: Map<string, NetLayer>;
  /** Tops that only excluded layers write, and by which: to explain a bottom nothing included produces. */
  excludedTops: Map<string, { name: string; type: string; reason: string }>;
}

/** Build the net in Caffe's TEST phase (by default), following the file's own `state` for level and stages. */
export function buildNet(doc: PtDocument, opts: NetState = {}): Net {
  const root = doc.root;
  const { format, layerFields } = layerList(doc);
  const state = netState(root, opts);
  const build: Building = {
    doc,
    state,
    format,
    version: new Map(),
    producer: new Map(),
    consumers: new Map(),
    read: new Set(),
    layers: [],
    excluded: [],
    byName: new Map(),
    excludedTops: new Map(),
  };
  const inputs = legacyInputs(build, root);
  for (const f of layerFields) addLayer(build, f);
  const { layers, excluded, producer, consumers, byName } = build;
  return {
    doc,
    name: str(root, 'name'),
    phase: state.phase,
    format,
    inputs,
    layers,
    excluded,
    producer,
    consumers,
    outputs: netOutputs(build),
    byName,
  };
}

/** The layer blocks: V2 `layer` or V1 `layers`, never both (Caffe refuses a file with both). */
function layerList(doc: PtDocument): { format: Net['format']; layerFields: PtField[] } {
  const root = doc.root;
  const v2 = fields(root, 'layer');
  const v1 = fields(root, 'layers');
  if (v2.length > 0 && v1.length > 0) {
    const where = v1[0].nameSpan.start;
    throw caffeError('net-mixed-format', { layer: v2.length, layers: v1.length }, textWhere(doc, where));
  }
  return v1.length > 0 ? { format: 'layers', layerFields: v1 } : { format: 'layer', layerFields: v2 };
}

/** The state to build for: the options, else the file's `state { … }`, else TEST, level 0, no stages. */
function netState(root: PtMessage, opts: NetState): Required<NetState> {
  const fileState = message(root, 'state');
  return {
    phase: opts.phase ?? ((fileState && (str(fileState, 'phase') as 'TEST' | 'TRAIN' | undefined)) || 'TEST'),
    level: opts.level ?? (fileState ? (num(fileState, 'level') ?? 0) : 0),
    stages: opts.stages ?? (fileState ? strs(fileState, 'stage') : []),
  };
}

/** Net-level `input:` blobs, shaped by `input_shape` or else by four `input_dim`s each. */
function legacyInputs(build: Building, root: PtMessage): NetInput[] {
  const inputs: NetInput[] = [];
  const inputNames = strs(root, 'input');
  const dims = nums(root, 'input_dim');
  const shapes = messages(root, 'input_shape').map((m) => nums(m, 'dim'));
  inputNames.forEach((name, i) => {
    let shape: number[] | undefined = shapes[i];
    if (!shape && dims.length >= 4 * (i + 1)) shape = dims.slice(4 * i, 4 * i + 4);
    inputs.push({ name, shape, ref: writeBlob(build, name, -1) });
  });
  return inputs;
}

/** One layer block: left out with why (excluded), or included, reading and writing blob versions. */
function addLayer(build: Building, f: PtField): void {
  if (f.value.kind !== 'message') {
    throw caffeError('net-bad-layer', { field: f.name }, textWhere(build.doc, f.nameSpan.start));
  }
  const msg = f.value;
  const rawType = str(msg, 'type') ?? '';
  const v1Type = build.format === 'layers' ? rawType : undefined;
  const type = build.format === 'layers' ? (V1_TYPE_NAMES[rawType] ?? rawType) : rawType;
  const name = str(msg, 'name') ?? '';
  const why = exclusionReason(msg, build.state);
  if (why) {
    build.excluded.push({ name, type, reason: why, field: f });
    for (const t of strs(msg, 'top')) if (!build.version.has(t)) build.excludedTops.set(t, { name, type, reason: why });
    return;
  }
  const index = build.layers.length;
  const bottoms = strs(msg, 'bottom');
  const tops = strs(msg, 'top');
  const reader = { name, type, f };
  const bottomRefs = bottoms.map((bottom) => readBlob(build, bottom, index, reader));
  const topRefs = tops.map((t) => writeBlob(build, t, index));
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
    phase: layerPhase(msg) ?? build.state.phase,
    field: f,
    msg,
  };
  build.layers.push(layer);
  if (name && !build.byName.has(name)) build.byName.set(name, layer);
}

/** The current version of a bottom, recorded as read by layer `index`; a bottom nobody wrote is an error. */
function readBlob(
  build: Building,
  bottom: string,
  index: number,
  reader: { name: string; type: string; f: PtField },
): BlobRef {
  const v = build.version.get(bottom);
  if (v === undefined) {
    const { name, type, f } = reader;
    const ex = build.excludedTops.get(bottom);
    if (ex) {
      const producer = { producer: ex.name, producerType: ex.type, phase: build.state.phase, reason: ex.reason };
      throw caffeError(
        'net-training-only',
        { layer: name, type, bottom, ...producer },
        textWhere(build.doc, f.nameSpan.start),
      );
    }
    throw caffeError('net-unknown-bottom', { layer: name, type, bottom }, textWhere(build.doc, f.nameSpan.start));
  }
  const r = ref(bottom, v);
  build.read.add(r.id);
  const list = build.consumers.get(r.id);
  if (list) list.push(index);
  else build.consumers.set(r.id, [index]);
  return r;
}

/** A new version of blob `name`, written by layer `by` (-1: a net input). */
function writeBlob(build: Building, name: string, by: number): BlobRef {
  const v = build.version.has(name) ? build.version.get(name)! + 1 : 0;
  build.version.set(name, v);
  const r = ref(name, v);
  build.producer.set(r.id, by);
  return r;
}

/** The last version of every blob that no layer reads. */
function netOutputs(build: Building): BlobRef[] {
  const outputs: BlobRef[] = [];
  for (const [name, v] of build.version) {
    const r = ref(name, v);
    if (!build.read.has(r.id)) outputs.push(r);
  }
  return outputs;
}

function layerPhase(msg: PtMessage): 'TEST' | 'TRAIN' | undefined {
  const p = str(msg, 'phase');
  return p === 'TEST' || p === 'TRAIN' ? p : undefined;
}

function textWhere(doc: PtDocument, offset: number) {
  return { kind: 'text' as const, file: doc.file, offset, ...lineCol(doc.text, offset) };
}
