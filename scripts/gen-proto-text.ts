/** Writes src/core/schema/caffeProtoText.ts from proto/caffe.proto (core runs in Node and in a worker: no fs there). */
import { fileURLToPath } from 'node:url';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const PROTO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'proto', 'caffe.proto');
export const OUT = resolve(
  fileURLToPath(new URL('.', import.meta.url)),
  '..',
  'src',
  'core',
  'schema',
  'caffeProtoText.ts',
);

export function generate(): string {
  const text = readFileSync(PROTO, 'utf8');
  return `// Generated from proto/caffe.proto by scripts/gen-proto-text.ts — do not edit; run \`npx tsx scripts/gen-proto-text.ts\`.\nexport const CAFFE_PROTO = ${JSON.stringify(text)};\n`;
}

if (process.argv[1] && /gen-proto-text\.ts$/.test(process.argv[1])) {
  writeFileSync(OUT, generate());
  console.log(`wrote ${OUT}`);
}
