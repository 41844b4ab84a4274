/**
 * The whole-net check on the corpus: every net folded by our CLI, then compareModels runs the original and the
 * folded pair in OpenCV DNN (WebAssembly, our own engine: no Python) and compares every output. Weights come from
 * the oracle's gen.py (cached). Prints per net the worst relative error, the noise and, for ResNet-50 and
 * MobileNet v2, the latencies.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../src/cli/fold';
import { openCvEngine } from '../src/cli/engine';
import { compareModels, type WholeNetCheck } from '../src/core/check';
import { CACHE, CORPUS, corpusWeights, haveCorpus, haveOracle } from './oracle';
import { scaleWeights } from './tamper';

/** equal: must run and agree; not-run: OpenCV cannot run it as given (the reason must match); rejected: the CLI refuses it. */
const EXPECT: Record<string, { status: 'equal' } | { status: 'not-run'; reason: RegExp } | { status: 'rejected' }> = {
  resnet50_deploy: { status: 'equal' },
  resnet101_deploy: { status: 'equal' },
  mobilenet_v1_deploy: { status: 'equal' },
  mobilenet_v2_deploy: { status: 'equal' },
  se_resnet50_deploy: { status: 'equal' },
  shufflenet_v2_1x_deploy: { status: 'equal' },
  // Declared with a batch of 10: checked on one image (opencv.js takes one per input).
  squeezenet_v1_1_deploy: { status: 'equal' },
  bvlc_alexnet_deploy_v1_layers: { status: 'equal' },
  // Train/val nets: their inputs are data layers, which OpenCV does not read; our check says so before running.
  cifar10_full_sigmoid_train_test_bn: { status: 'not-run', reason: /data layer/ },
  resnet18_train_val: { status: 'not-run', reason: /data layer/ },
  // py-faster-rcnn's Python proposal layer.
  pvanet_faster_rcnn_test: { status: 'not-run', reason: /Python/ },
  mobilenet_ssd_train: { status: 'rejected' },
};
const TIMED = new Set(['resnet50_deploy', 'mobilenet_v2_deploy']);

const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));

function line(name: string, c: WholeNetCheck): string {
  if (c.status === 'not-run') return `[check] ${name}: not run: ${c.reason}`;
  const worst = c.outputs.reduce((a, o) => (o.maxRelError > a.maxRelError ? o : a), c.outputs[0]);
  const outs = c.outputs
    .map(
      (o) =>
        `${o.name} [${o.shape.join('×')}] abs ${fmt(o.maxAbsError)} rel ${fmt(o.maxRelError)} ≤ ${fmt(o.threshold)}`,
    )
    .join('; ');
  const lat = c.latency
    ? `; latency ${c.latency.originalMs.toFixed(0)} → ${c.latency.foldedMs.toFixed(0)} ms (${c.latency.ratio.toFixed(2)}×, median of ${c.latency.runs})`
    : '';
  const notes = c.notes?.length ? ` (${c.notes.join('; ')})` : '';
  return `[check] ${name}: ${c.status}; worst rel ${fmt(worst.maxRelError)}, noise ${fmt(c.noise)} (${(worst.maxRelError / (c.noise || Infinity)).toFixed(2)}× noise); ${outs}${lat}${notes}`;
}

describe.skipIf(!haveCorpus || !haveOracle)(
  'corpus: folded by the CLI, checked whole by compareModels (OpenCV DNN in WebAssembly)',
  () => {
    const out = join(CACHE, 'check');
    mkdirSync(out, { recursive: true });
    for (const [name, exp] of Object.entries(EXPECT)) {
      it(name, { timeout: 900_000 }, async () => {
        const proto = join(CORPUS, `${name}.prototxt`);
        const weights = corpusWeights(name);
        const outProto = join(out, `${name}_inference.prototxt`);
        const outWeights = join(out, `${name}_inference.caffemodel`);
        const msgs: string[] = [];
        const res = await runCli(
          ['--model', proto, '--weights', weights, '--output_model', outProto, '--output_weights', outWeights, '-q'],
          (s) => msgs.push(s),
          (s) => msgs.push(s),
        );
        if (exp.status === 'rejected') {
          expect(res.code, msgs.join('\n')).toBe(1);
          console.log(`[check] ${name}: the CLI refuses it: ${msgs.join(' ').slice(0, 200)}`);
          return;
        }
        expect(res.code, msgs.join('\n')).toBe(0);
        const original = { prototxt: readFileSync(proto), caffemodel: readFileSync(weights), name: `${name}.prototxt` };
        const folded = {
          prototxt: readFileSync(outProto),
          caffemodel: readFileSync(outWeights),
          name: `${name}_inference.prototxt`,
        };
        // A fresh instance per net: WebAssembly memory (1 GiB) fragments over many big models and never shrinks.
        const c = compareModels(await openCvEngine({ fresh: true }), original, folded, {
          timingRuns: TIMED.has(name) ? 5 : 0,
        });
        console.log(line(name, c));
        if (exp.status === 'not-run') {
          expect(c.status).toBe('not-run');
          expect(c.reason).toMatch(exp.reason);
          return;
        }
        expect(c.status, c.reason).toBe('equal');
        expect(c.outputs.length).toBeGreaterThan(0);
        for (const o of c.outputs) expect(o.maxRelError).toBeLessThanOrEqual(o.threshold);
        if (TIMED.has(name)) expect(c.latency?.runs).toBe(5);
      });
    }

    it('a wrong fold of ResNet-50 is caught: one convolution 1 % off, or 0.1 % off', { timeout: 900_000 }, async () => {
      const proto = join(CORPUS, 'resnet50_deploy.prototxt');
      const weights = corpusWeights('resnet50_deploy');
      const outProto = join(out, 'resnet50_deploy_inference.prototxt');
      const outWeights = join(out, 'resnet50_deploy_inference.caffemodel');
      await runCli(
        ['--model', proto, '--weights', weights, '--output_model', outProto, '--output_weights', outWeights, '-q'],
        () => {},
        () => {},
      );
      const original = { prototxt: readFileSync(proto), caffemodel: readFileSync(weights) };
      for (const factor of [1.01, 1.001]) {
        const wrong = {
          prototxt: readFileSync(outProto),
          caffemodel: scaleWeights(readFileSync(outWeights), 'res4c_branch2b', factor),
        };
        const c = compareModels(await openCvEngine({ fresh: true }), original, wrong, { timingRuns: 0 });
        console.log(
          `[check] resnet50 with res4c_branch2b × ${factor}: ${c.status}; rel ${fmt(c.outputs[0]?.maxRelError)} vs threshold ${fmt(c.outputs[0]?.threshold)}`,
        );
        expect(c.status).toBe('different');
      }
    });
  },
);
