/**
 * The graph fuzzer: random valid Caffe nets with awkward wiring (test/netgen.ts), folded, then checked twice — by
 * the structural proof (inside the fold; a failure would throw) and by a real engine (OpenCV DNN in WebAssembly:
 * the original and the folded pair on the same input, every output compared). Every pair must be equal; a chain
 * the fold cannot place is refused with a reason, never folded wrong.
 * The seed is printed; GRAPH_FUZZ_SEED replays a run, GRAPH_FUZZ_NETS changes how many nets (500 by default).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concatChunks } from '../src/core/caffemodel';
import { compareModels, type Engine } from '../src/core/check';
import { foldLoaded, loadFiles } from '../src/core/pipeline';
import { openCvEngine } from '../src/cli/engine';
import { caffemodelOf, prototxtOf } from './build';
import { randomNet } from './netgen';
import { chainNets, REPRODUCER } from './chains';
import { REQUIRED, haveOracle, runOracle } from './oracle';

const SEED = Number(process.env.GRAPH_FUZZ_SEED ?? Date.now() % 2 ** 31);
const NETS = Number(process.env.GRAPH_FUZZ_NETS ?? 500);
/** Nets with a folded transposed InnerProduct sent to the Python oracle (about 0.5 s each). */
const ORACLE_NETS = 20;
console.log(
  `[graph-fuzz] seed ${SEED}, ${NETS} nets (replay with GRAPH_FUZZ_SEED=${SEED}; net k has seed ${SEED} + k)`,
);

const enc = new TextEncoder();
let engine: Engine;
beforeAll(async () => {
  engine = await openCvEngine();
}, 60_000);

/** Fold a test net and run both pairs in the engine; returns the fold's report and the engine's verdict. */
function foldAndRun(prototxt: string, caffemodel: Uint8Array, seed: number) {
  const loaded = loadFiles(
    { name: 'net.prototxt', bytes: enc.encode(prototxt) },
    { name: 'net.caffemodel', bytes: caffemodel },
  );
  const out = foldLoaded(loaded);
  const check = compareModels(
    engine,
    { prototxt: enc.encode(prototxt), caffemodel },
    { prototxt: enc.encode(out.prototxt.text), caffemodel: concatChunks(out.caffemodel.chunks) },
    { seed, timingRuns: 0 },
  );
  return { report: out.report, check };
}

describe('the reproducer and its relatives, run in OpenCV DNN', () => {
  it('the reproducer folds and computes what the original computes', () => {
    const { report, check } = foldAndRun(prototxtOf(REPRODUCER), caffemodelOf(REPRODUCER), 1);
    expect(report.chains).toHaveLength(1);
    expect(check.status, JSON.stringify(check)).toBe('equal');
    expect(check.outputs.map((o) => o.name)).toEqual(['out']);
  });

  it('every relative: equal outputs, whatever folded', () => {
    const failed: string[] = [];
    for (const { label, net } of chainNets()) {
      const { check } = foldAndRun(prototxtOf(net), caffemodelOf(net), 7);
      if (check.status !== 'equal')
        failed.push(`${label}: ${check.status} ${check.reason ?? JSON.stringify(check.outputs)}`);
    }
    expect(failed).toEqual([]);
  });
});

describe('graph fuzzer', () => {
  it(
    `${NETS} random nets with awkward wiring: every folded pair equals its original in OpenCV DNN`,
    { timeout: 600_000 },
    () => {
      const stats: Record<string, number> = {};
      const bump = (k: string) => (stats[k] = (stats[k] ?? 0) + 1);
      const failures: string[] = [];
      for (let k = 0; k < NETS; k++) {
        const seed = SEED + k;
        // No transposed InnerProduct here: OpenCV ignores `transpose` (those nets are checked by the oracle below).
        const net = randomNet(seed, { transposeIP: false });
        let result: ReturnType<typeof foldAndRun>;
        try {
          result = foldAndRun(prototxtOf(net), caffemodelOf(net), seed);
        } catch (e) {
          failures.push(`net seed ${seed}: the fold threw ${(e as Error).message}`);
          continue;
        }
        const { report, check } = result;
        for (const c of report.chains) bump(c.moveTo ? `${c.pattern} (moved)` : c.pattern);
        for (const r of report.refusals) bump(`refused: ${r.code}`);
        if (check.status !== 'equal') {
          failures.push(`net seed ${seed}: ${check.status}${check.reason ? ` (${check.reason})` : ''}`);
        }
        bump(`engine: ${check.status}`);
      }
      console.log(`[graph-fuzz] ${JSON.stringify(stats)}`);
      expect(failures.slice(0, 10)).toEqual([]);
      // The generator must keep making the awkward cases it exists for.
      expect(stats['bn-scale (moved)'] ?? 0).toBeGreaterThan(NETS / 50);
      expect(stats['producer-bn-scale'] ?? 0).toBeGreaterThan(NETS / 10);
    },
  );

  it.skipIf(!haveOracle && !REQUIRED)(
    'nets with transposed InnerProducts: the structural proof holds, and the Python oracle (which un-transposes for OpenCV) finds them equal',
    { timeout: 600_000 },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'caffe-fold-gfuzz-'));
      let checked = 0;
      const failures: string[] = [];
      for (let k = 0; k < NETS && checked < ORACLE_NETS; k++) {
        const seed = SEED + NETS + k;
        const net = randomNet(seed);
        const text = prototxtOf(net);
        if (!/transpose: true/.test(text)) continue;
        const model = caffemodelOf(net);
        const out = foldLoaded(
          loadFiles({ name: 'net.prototxt', bytes: enc.encode(text) }, { name: 'net.caffemodel', bytes: model }),
        );
        if (!out.report.chains.some((c) => c.label.startsWith('IP'))) continue;
        const p = (f: string) => join(dir, `${seed}${f}`);
        writeFileSync(p('.prototxt'), text);
        writeFileSync(p('.caffemodel'), model);
        writeFileSync(p('_f.prototxt'), out.prototxt.text);
        writeFileSync(p('_f.caffemodel'), concatChunks(out.caffemodel.chunks));
        const o = runOracle([p('.prototxt'), p('.caffemodel')], [p('_f.prototxt'), p('_f.caffemodel')]);
        if (!o.ok) failures.push(`net seed ${seed}: ${o.error ?? `worst rel. error ${o.worst_rel}`}`);
        checked++;
      }
      console.log(`[graph-fuzz] ${checked} nets with folded transposed InnerProducts checked by the oracle`);
      expect(failures).toEqual([]);
      expect(checked).toBe(ORACLE_NETS);
    },
  );
});
