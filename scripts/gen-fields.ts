/**
 * Writes src/core/schema/fields.ts from proto/caffe.proto: the field numbers (and the one enum) that the wire-level
 * reader and writers of src/core/caffemodel use, so that caffe.proto stays the only place they are written.
 * src/core/schema/schema.test.ts checks that the checked-in file is what this script writes.
 */
import { fileURLToPath } from 'node:url';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import protobuf from 'protobufjs';
import { PROTO } from './gen-proto-text';

export const OUT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'src', 'core', 'schema', 'fields.ts');

/** The fields the code reads or writes at the wire level, by message ('*': all of them, in the proto's order). */
const USED: Record<string, string[] | '*'> = {
  // All: the sniff (looksLikeCaffemodel) checks any top-level field's wire type.
  NetParameter: '*',
  LayerParameter: ['name', 'type', 'bottom', 'top', 'blobs', 'convolution_param', 'inner_product_param', 'scale_param'],
  V1LayerParameter: ['bottom', 'top', 'name', 'type', 'blobs', 'convolution_param', 'inner_product_param'],
  BlobProto: '*',
  BlobShape: '*',
  ConvolutionParameter: ['bias_term'],
  InnerProductParameter: ['bias_term'],
  ScaleParameter: ['bias_term'],
};

/** Top-level enums the code uses, by name. */
const ENUMS = ['Type'];

export function generate(): string {
  const root = protobuf.parse(readFileSync(PROTO, 'utf8'), { keepCase: true }).root;
  const lines = [
    '// Generated from proto/caffe.proto by scripts/gen-fields.ts — do not edit; run `npx tsx scripts/gen-fields.ts`.',
    '',
    "/** caffe.proto's field numbers, by message, for the fields the wire-level reader and writers use. */",
    'export const FIELD = {',
  ];
  for (const [message, wanted] of Object.entries(USED)) {
    const type = root.lookupType(`caffe.${message}`);
    for (const name of wanted === '*' ? [] : wanted)
      if (!type.fields[name]) throw new Error(`caffe.proto has no field ${message}.${name}`);
    lines.push(`  ${message}: {`);
    for (const f of type.fieldsArray) {
      if (wanted !== '*' && !wanted.includes(f.name)) continue;
      lines.push(`    ${f.name}: ${f.id}, // ${f.repeated ? 'repeated' : 'optional'} ${f.type}`);
    }
    lines.push('  },');
  }
  lines.push(
    '} as const;',
    '',
    "/** caffe.proto's enum values, by enum (raw_data_type is a Type). */",
    'export const ENUM = {',
  );
  for (const name of ENUMS) {
    const e = root.lookupEnum(`caffe.${name}`);
    lines.push(`  ${name}: {`);
    for (const [k, v] of Object.entries(e.values)) lines.push(`    ${k}: ${v},`);
    lines.push('  },');
  }
  lines.push('} as const;', '');
  return lines.join('\n');
}

if (process.argv[1] && /gen-fields\.ts$/.test(process.argv[1])) {
  writeFileSync(OUT, generate());
  console.log(`wrote ${OUT}`);
}
