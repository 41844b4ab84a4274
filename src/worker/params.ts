/** A layer's parameters for the side panel: what the file says, plus the schema's defaults for what it leaves out. */
import type { NetLayer } from '../core/net';
import { scalarText, type PtField, type PtMessage } from '../core/prototxt';
import { layerParamFieldFor, paramDefaults, paramMessageName } from '../core/schema';
import type { ParamEntry, ParamGroup } from './types';

const LAYER_SKIP = new Set(['name', 'type', 'bottom', 'top', 'blobs']);

function valueText(v: PtField['value'], depth = 0): string {
  switch (v.kind) {
    case 'scalar':
      return v.token === 'string' ? JSON.stringify(scalarText(v)) : v.raw;
    case 'list':
      return `[${v.items.map((i) => valueText(i, depth + 1)).join(', ')}]`;
    case 'message':
      if (depth > 2) return '{ … }';
      return `{ ${v.fields.map((f) => `${f.name}: ${valueText(f.value, depth + 1)}`).join(' ')} }`;
  }
}

/** Fields of a message, repeated names joined ("kernel_size: 3, 3"). */
function entriesOf(msg: PtMessage, skip?: Set<string>): ParamEntry[] {
  const order: string[] = [];
  const values = new Map<string, string[]>();
  for (const f of msg.fields) {
    if (skip?.has(f.name)) continue;
    let list = values.get(f.name);
    if (!list) {
      values.set(f.name, (list = []));
      order.push(f.name);
    }
    list.push(valueText(f.value));
  }
  return order.map((key) => ({ key, value: values.get(key)!.join(', '), isDefault: false }));
}

function defaultText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.length ? `[${v.map(defaultText).join(', ')}]` : undefined;
  return undefined;
}

export function layerParams(layer: Pick<NetLayer, 'type' | 'msg' | 'v1Type'>): ParamGroup[] {
  const groups: ParamGroup[] = [];
  const paramFields = layer.msg.fields.filter((f) => f.value.kind === 'message' && f.name.endsWith('_param'));
  const own = entriesOf(layer.msg, new Set([...LAYER_SKIP, ...paramFields.map((f) => f.name)]));
  if (own.length) groups.push({ name: 'layer', entries: own });
  const v1 = layer.v1Type !== undefined;
  const fieldName = layerParamFieldFor(layer.type);
  const messageName = fieldName ? (paramMessageName(fieldName, v1) ?? paramMessageName(fieldName)) : undefined;
  const expected = fieldName && messageName ? { field: fieldName, message: messageName } : undefined;
  let sawExpected = false;
  for (const f of paramFields) {
    const entries = entriesOf(f.value as PtMessage);
    if (expected && f.name === expected.field) {
      sawExpected = true;
      addDefaults(entries, expected.message);
    }
    groups.push({ name: f.name, entries });
  }
  if (expected && !sawExpected) {
    const entries: ParamEntry[] = [];
    addDefaults(entries, expected.message);
    if (entries.length) groups.push({ name: expected.field, entries });
  }
  return groups;
}

function addDefaults(entries: ParamEntry[], messageName: string): void {
  const set = new Set(entries.map((e) => e.key));
  let defaults: Record<string, unknown>;
  try {
    defaults = paramDefaults(messageName);
  } catch {
    return;
  }
  for (const [key, v] of Object.entries(defaults)) {
    if (set.has(key)) continue;
    const text = defaultText(v);
    if (text !== undefined) entries.push({ key, value: text, isDefault: true });
  }
}
