/**
 * npm run bench — speed and memory of the fold pipeline on big synthetic caffemodels with real shapes, as ratios
 * to the floor (reading the file into memory and copying it once). Prints; never fails on time.
 *
 *   npm run bench                 # ResNet-50 (~98 MB) and VGG16-BN (~550 MB) in Node
 *   npm run bench -- --only resnet50
 */
import { fileURLToPath } from 'node:url';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { synthCaffemodel } from './synth';
import { benchBrowser } from './bench-browser';
import { parsePrototxt } from '../src/core/prototxt';
import { readCaffemodel } from '../src/core/caffemodel';
import { buildNet } from '../src/core/net';
import { pairWeights } from '../src/core/pipeline';
import { analyse } from '../src/core/fold/analyse';
import { foldNet } from '../src/core/fold/apply';
import type { FoldPhase } from '../src/core/fold/types';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const CACHE = join(ROOT, '.cache', 'bench');

interface Case {
  name: string;
  prototxt: string;
}

function cases(): Case[] {
  const r50 = resolve(ROOT, '..', 'shared', 'corpus', 'prototxt', 'resnet50_deploy.prototxt');
  const list: Case[] = [];
  if (existsSync(r50)) list.push({ name: 'resnet50', prototxt: r50 });
  else console.log(`(../shared is absent: ResNet-50 skipped; ${r50} not found)`);
  list.push({ name: 'vgg16_bn', prototxt: join(ROOT, 'scripts', 'vgg16_bn_deploy.prototxt') });
  return list;
}

function ensureModel(c: Case): string {
  mkdirSync(CACHE, { recursive: true });
  const out = join(CACHE, `${c.name}.caffemodel`);
  if (existsSync(out)) return out;
  const t = performance.now();
  const chunks = synthCaffemodel(readFileSync(c.prototxt, 'utf8'), { seed: 1 });
  const fd = openSync(out, 'w');
  for (const ch of chunks) writeSync(fd, ch);
  closeSync(fd);
  console.log(
    `generated ${out} (${(statSync(out).size / 1e6).toFixed(0)} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s — run the bench again for memory figures without the generator's`,
  );
  return out;
}

const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

function benchNode(c: Case, modelPath: string) {
  const size = statSync(modelPath).size;
  const mem0 = process.memoryUsage();
  let peakRss = mem0.rss;
  let peakHeap = mem0.heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  const phases: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    phases[name] = (phases[name] ?? 0) + (now - t);
    t = now;
    sample();
  };
  const text = readFileSync(c.prototxt, 'utf8');
  const bytes: Uint8Array = readFileSync(modelPath); // a Buffer is a Uint8Array: no copy
  lap('read');
  const doc = parsePrototxt(text, c.prototxt);
  const model = readCaffemodel(bytes, modelPath);
  lap('parse');
  const net = buildNet(doc);
  const { weights } = pairWeights(net, model);
  const analysis = analyse(net, { weights });
  lap('analyse');
  let current: FoldPhase | undefined;
  const out = foldNet({ net, model, weights, analysis }, { inPlace: true }, (p) => {
    if (p !== current) {
      if (current) lap(current);
      else lap('analyse');
      current = p;
    }
  });
  lap('write');
  const total = Object.values(phases).reduce((a, b) => a + b, 0);
  // Saving the chunks to disk is outside the ratio: the floor has no disk write either.
  const tSave = performance.now();
  const fd = openSync(join(CACHE, `${c.name}_inference.caffemodel`), 'w');
  for (const ch of out.chunks) writeSync(fd, ch);
  closeSync(fd);
  const save = performance.now() - tSave;
  sample();
  const maxRss = process.resourceUsage().maxRSS * 1024;
  // Floor, measured after the pipeline so its buffers do not count in the pipeline's peak memory:
  // read the file into memory and copy it once (best of 3).
  let floor = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const b = readFileSync(modelPath);
    const copy = new Uint8Array(b.length);
    copy.set(b);
    floor = Math.min(floor, performance.now() - t0);
  }
  console.log(
    `\n## ${c.name} in Node ${process.version}: ${(size / 1e6).toFixed(0)} MB, ${out.report.chains.length} chains folded`,
  );
  console.log(`floor (read + one copy): ${floor.toFixed(0)} ms`);
  for (const [k, v] of Object.entries(phases))
    console.log(`  ${k.padEnd(8)} ${v.toFixed(0).padStart(6)} ms  ${(v / floor).toFixed(2)}× floor`);
  console.log(`  total    ${total.toFixed(0).padStart(6)} ms  ${(total / floor).toFixed(2)}× floor`);
  console.log(`  (saving the output to disk: ${save.toFixed(0)} ms, not in the total)`);
  console.log(
    `peak RSS ${mb(peakRss)} (${(peakRss / size).toFixed(2)}× the file), peak heap ${mb(peakHeap)}, maxRSS ${mb(maxRss)}`,
  );
  return { name: c.name, size, floor, total, ratio: total / floor, peakRss: Math.max(peakRss, maxRss) };
}

async function main() {
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const noBrowser = process.argv.includes('--node-only');
  console.log(
    `caffe-fold bench — ${new Date().toISOString().slice(0, 10)}, ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, ${mb(totalmem())} RAM`,
  );
  const results = [];
  const picked = cases().filter((c) => !only || c.name === only);
  const models = picked.map((c) => ({ ...c, model: ensureModel(c) }));
  for (const c of models) results.push(benchNode(c, c.model));
  console.log('\n### Node\n| model | size | floor | total | total / floor | peak RSS / size |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results)
    console.log(
      `| ${r.name} | ${(r.size / 1e6).toFixed(0)} MB | ${r.floor.toFixed(0)} ms | ${r.total.toFixed(0)} ms | ${r.ratio.toFixed(2)}× | ${(r.peakRss / r.size).toFixed(2)}× |`,
    );
  if (noBrowser) return;
  try {
    const br = await benchBrowser(ROOT, models);
    for (const r of br) {
      console.log(`\n## ${r.name} in Chromium: ${(r.size / 1e6).toFixed(0)} MB`);
      console.log(`floor (read the File + one copy, in a page): ${r.floor.toFixed(0)} ms`);
      const apart: Record<string, string> = {
        shapes: 'the graph',
        layout: 'the graph',
        output: "writing the download file, as Node's disk write",
      };
      for (const [k, v] of Object.entries(r.phases))
        console.log(
          `  ${k.padEnd(8)} ${v.toFixed(0).padStart(6)} ms  ${(v / r.floor).toFixed(2)}× floor${apart[k] ? `  (not in the total: ${apart[k]})` : ''}`,
        );
      console.log(`  total    ${r.total.toFixed(0).padStart(6)} ms  ${(r.total / r.floor).toFixed(2)}× floor`);
      console.log(
        `  total with the output ${(r.total + (r.phases.output ?? 0)).toFixed(0)} ms  ${((r.total + (r.phases.output ?? 0)) / r.floor).toFixed(2)}× floor`,
      );
      console.log(`as the user sees it: files chosen → graph drawn ${r.load} ms; Fold → folded graph ${r.fold} ms`);
      console.log(
        `browser process (would hold a Blob's bytes): peak ${mb(r.browserPeak)}, ${mb(r.browserPeak - r.browserIdle)} above its idle ${mb(r.browserIdle)} (${((r.browserPeak - r.browserIdle) / r.size).toFixed(2)}× the file)`,
      );
      console.log(
        `peak RSS of the page's renderer ${mb(r.peakRss)} (${(r.peakRss / r.size).toFixed(2)}× the file); above the idle page (${mb(r.idleRss)}): ${mb(r.peakRss - r.idleRss)} (${((r.peakRss - r.idleRss) / r.size).toFixed(2)}×)`,
      );
    }
    console.log('\n### Chromium (the built app; phases measured in its worker)');
    console.log(
      '| model | size | floor | total (read…write) | total / floor | with the output / floor | drop → graph | Fold → folded graph | peak renderer RSS / size | (above the idle page) / size |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of br) {
      const withBlob = (r.total + (r.phases.output ?? 0)) / r.floor;
      console.log(
        `| ${r.name} | ${(r.size / 1e6).toFixed(0)} MB | ${r.floor.toFixed(0)} ms | ${r.total.toFixed(0)} ms | ${(r.total / r.floor).toFixed(2)}× | ${withBlob.toFixed(2)}× | ${r.load} ms | ${r.fold} ms | ${(r.peakRss / r.size).toFixed(2)}× | ${((r.peakRss - r.idleRss) / r.size).toFixed(2)}× |`,
      );
    }
  } catch (e) {
    console.log(`\nChromium half not measured: ${(e as Error).message}`);
  }
}

void main();
