import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs, runCli } from '../src/cli/fold';
import { blob, bnBlobs, caffemodelOf, prototxtOf, type TestNet } from './build';
import { ROOT } from './oracle';

const net: TestNet = {
  name: 'tiny',
  input: { name: 'data', shape: [1, 3, 6, 6] },
  layers: [
    {
      name: 'conv1',
      type: 'Convolution',
      bottoms: ['data'],
      tops: ['conv1'],
      text: 'convolution_param { num_output: 4 kernel_size: 3 bias_term: false }',
      blobs: [blob([4, 3, 3, 3])],
    },
    { name: 'bn1', type: 'BatchNorm', bottoms: ['conv1'], tops: ['conv1'], blobs: bnBlobs(4).blobs },
    {
      name: 'sc1',
      type: 'Scale',
      bottoms: ['conv1'],
      tops: ['conv1'],
      text: 'scale_param { bias_term: true }',
      blobs: [blob([4]), blob([4])],
    },
    {
      name: 'pool',
      type: 'Pooling',
      bottoms: ['conv1'],
      tops: ['pool'],
      text: 'pooling_param { pool: MAX kernel_size: 2 stride: 2 }',
    },
    { name: 'bn2', type: 'BatchNorm', bottoms: ['pool'], tops: ['bn2'], blobs: bnBlobs(4).blobs },
  ],
};

function files() {
  const dir = mkdtempSync(join(tmpdir(), 'caffe-fold-cli-'));
  const model = join(dir, 'tiny.prototxt');
  const weights = join(dir, 'tiny.caffemodel');
  writeFileSync(model, prototxtOf(net));
  writeFileSync(weights, caffemodelOf(net));
  return { dir, model, weights };
}

const run = async (args: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const r = await runCli(
    args,
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { ...r, out: out.join('\n'), err: err.join('\n') };
};

describe('CLI', () => {
  it("takes the classic merge script's flags, underscore and dash forms", async () => {
    expect(
      parseArgs([
        '--model',
        'a',
        '--weights',
        'b',
        '--output_model',
        'c',
        '--output-weights',
        'd',
        '--skip',
        'x',
        'y',
        '--zero-factor',
        'one',
        '--dry-run',
      ]),
    ).toMatchObject({
      model: 'a',
      weights: 'b',
      outputModel: 'c',
      outputWeights: 'd',
      skip: ['x', 'y'],
      zeroFactor: 'one',
      dryRun: true,
    });
    expect(parseArgs(['--model=a', '--weights=b'])).toMatchObject({
      model: 'a',
      weights: 'b',
      allowMissingWeights: false,
    });
    expect(parseArgs(['--model', 'a', '--allow-missing-weights'])).toMatchObject({ allowMissingWeights: true });
    expect(parseArgs(['--model', 'a', '--allow_missing_weights'])).toMatchObject({ allowMissingWeights: true });
  });

  it('writes <base>_inference.* beside the inputs by default, with a readable summary; inputs unchanged', async () => {
    const f = files();
    const before = [readFileSync(f.model), readFileSync(f.weights)];
    const r = await run(['--model', f.model, '--weights', f.weights, '--report', join(f.dir, 'r.json')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/folded 1 chain\(s\):\n {2}Conv\+BN\+Scale +conv1 → bn1 → sc1/);
    expect(r.out).toMatch(/not folded: 1\n {2}BatchNorm "bn2": its input comes from Pooling "pool"/);
    expect(existsSync(join(f.dir, 'tiny_inference.prototxt'))).toBe(true);
    expect(existsSync(join(f.dir, 'tiny_inference.caffemodel'))).toBe(true);
    expect(readFileSync(f.model).equals(before[0]) && readFileSync(f.weights).equals(before[1])).toBe(true);
    const rep = JSON.parse(readFileSync(join(f.dir, 'r.json'), 'utf8'));
    expect(rep.chains).toEqual([
      expect.objectContaining({ layers: ['conv1', 'bn1', 'sc1'], pattern: 'producer-bn-scale' }),
    ]);
    expect(rep.chains[0].maxRelError).toBeLessThan(1e-5);
    expect(rep.refusals).toEqual([expect.objectContaining({ layer: 'bn2', code: 'bn-input-not-foldable' })]);
    expect(rep.layers).toEqual({ before: 5, after: 3 });
  });

  it('--dry-run writes nothing but the report; --skip leaves a chain', async () => {
    const f = files();
    const r = await run([
      '--model',
      f.model,
      '--weights',
      f.weights,
      '--dry-run',
      '--skip',
      'bn1',
      '--report',
      join(f.dir, 'r.json'),
    ]);
    expect(r.code).toBe(0);
    expect(existsSync(join(f.dir, 'tiny_inference.caffemodel'))).toBe(false);
    const rep = JSON.parse(readFileSync(join(f.dir, 'r.json'), 'utf8'));
    expect(rep.chains).toEqual([]);
    expect(rep.refusals.map((x: { code: string }) => x.code).sort()).toEqual(['bn-input-not-foldable', 'skipped']);
  });

  it('never overwrites an input, and bad input exits 1 with what and where', async () => {
    const f = files();
    const size = statSync(f.weights).size;
    const r = await run(['--model', f.model, '--weights', f.weights, '--output_weights', f.weights]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `caffe-fold: ${f.weights}: The output (--output_weights) is one of the input files; caffe-fold never overwrites its input. Choose another name with --output_weights.`,
    );
    expect(statSync(f.weights).size).toBe(size);
    writeFileSync(join(f.dir, 'bad.prototxt'), 'layer {\n  name: "x"\n');
    const bad = await run(['--model', join(f.dir, 'bad.prototxt'), '--weights', f.weights]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/bad\.prototxt:3:1: Expected '}' to close "layer"/);
    writeFileSync(join(f.dir, 'cut.caffemodel'), readFileSync(f.weights).subarray(0, 100));
    const cut = await run(['--model', f.model, '--weights', join(f.dir, 'cut.caffemodel')]);
    expect(cut.code).toBe(1);
    expect(cut.err).toMatch(/cut\.caffemodel at byte \d+: .*cut short/);
    expect((await run(['--weights', f.weights])).code).toBe(2);
    const nope = await run(['--model', join(f.dir, 'nope.prototxt'), '--weights', f.weights]);
    expect(nope.code).toBe(1);
    expect(nope.err).toBe(
      `caffe-fold: ${join(f.dir, 'nope.prototxt')}: The file cannot be read: there is no such file. Check the path, and that you may read the file.`,
    );
    const folder = await run(['--model', f.model, '--weights', f.dir]);
    expect(folder.code).toBe(1);
    expect(folder.err).toMatch(/: The file cannot be read: it is a folder\. /);
  });

  it('an output that cannot be written exits 1 with the file and why; usage errors exit 2 with a sentence and the usage', async () => {
    const f = files();
    const r = await run([
      '--model',
      f.model,
      '--weights',
      f.weights,
      '--output_model',
      join(f.dir, 'no', 'such', 'dir', 'x.prototxt'),
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `caffe-fold: ${join(f.dir, 'no', 'such', 'dir', 'x.prototxt')}: The file cannot be written: its folder does not exist. Check that its folder exists and that you may write there.`,
    );
    const usage = async (args: string[], message: string) => {
      const u = await run(args);
      expect(u.code, args.join(' ')).toBe(2);
      expect(u.err.split('\n')[0]).toBe(message);
      expect(u.err).toContain('Usage: npm run fold');
    };
    await usage(['--weights', f.weights], 'caffe-fold: The option --model is required.');
    await usage(['--model'], 'caffe-fold: The option --model needs a value.');
    await usage(['--model', 'a', '--bogus=1'], 'caffe-fold: Unknown option --bogus=1.');
    await usage(['--model', 'a', '--seed', '-1'], 'caffe-fold: The option --seed takes a whole number ≥ 0, not "-1".');
    await usage(
      ['--model', 'a', '--zero-factor', 'two'],
      'caffe-fold: The option --zero-factor takes "caffe" or "one", not "two".',
    );
    await usage(['--model', 'a', '--skip'], 'caffe-fold: The option --skip needs at least one layer name.');
    await usage(
      ['compare', '--model', 'a'],
      'caffe-fold compare: The compare command needs --model A.prototxt --weights A.caffemodel.',
    );
    await usage(
      ['compare', '--model', 'a', '--weights', 'b'],
      'caffe-fold compare: The compare command needs --against B.prototxt B.caffemodel.',
    );
    await usage(
      ['compare', '--against=a'],
      'caffe-fold compare: The option --against needs two files: B.prototxt B.caffemodel.',
    );
    const help = await run(['--model', 'a', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: npm run fold');
    expect(help.err).toBe('');
    // compare: a file it cannot read is "could not compare", exit 2.
    const nope = await run([
      'compare',
      '--model',
      f.model,
      '--weights',
      f.weights,
      '--against',
      f.model,
      join(f.dir, 'nope.caffemodel'),
    ]);
    expect(nope.code).toBe(2);
    expect(nope.err).toBe(
      `caffe-fold compare: ${join(f.dir, 'nope.caffemodel')}: The file cannot be read: there is no such file. Check the path, and that you may read the file.`,
    );
  });

  it('a pair Caffe would refuse exits 1 with what, where and what to do, and writes nothing', async () => {
    const f = files();
    // The same net with conv1 made for 5 input channels: its weights [4, 3, 3, 3] no longer fit.
    writeFileSync(join(f.dir, 'other.prototxt'), prototxtOf({ ...net, input: { name: 'data', shape: [1, 5, 6, 6] } }));
    const r = await run([
      '--model',
      join(f.dir, 'other.prototxt'),
      '--weights',
      f.weights,
      '--report',
      join(f.dir, 'r.json'),
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'caffe-fold: tiny.caffemodel, layer "conv1": Param 0 (weights) of Convolution layer "conv1" has the shape [4, 3, 3, 3] in the caffemodel, but the prototxt makes it [4, 5, 3, 3]; Caffe refuses such a pair ("Cannot copy param 0 weights from layer \'conv1\'; shape mismatch"). These weights belong to another network (or another version of it): give the .caffemodel that was trained with this .prototxt.',
    );
    expect(readdirSync(f.dir).sort()).toEqual(['other.prototxt', 'tiny.caffemodel', 'tiny.prototxt']);

    // An empty prototxt with the weights: refused, nothing written.
    writeFileSync(join(f.dir, 'empty.prototxt'), '');
    const empty = await run(['--model', join(f.dir, 'empty.prototxt'), '--weights', f.weights]);
    expect(empty.code).toBe(1);
    expect(empty.err).toMatch(
      /^caffe-fold: empty\.prototxt: The network definition is empty: there is nothing to fold or draw\. Give /,
    );
    expect(readdirSync(f.dir).sort()).toEqual(['empty.prototxt', 'other.prototxt', 'tiny.caffemodel', 'tiny.prototxt']);
  });

  it('layers without weights: exit 1 by default; --allow-missing-weights folds with the warning', async () => {
    const f = files();
    const extra = {
      name: 'conv2',
      type: 'Convolution',
      bottoms: ['conv1'],
      tops: ['conv2'],
      text: 'convolution_param { num_output: 2 kernel_size: 1 }',
    };
    writeFileSync(
      join(f.dir, 'more.prototxt'),
      prototxtOf({ ...net, layers: [...net.layers.slice(0, 3), extra, ...net.layers.slice(3)] }),
    );
    const args = ['--model', join(f.dir, 'more.prototxt'), '--weights', f.weights];
    const r = await run(args);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^caffe-fold: more\.prototxt, layer "conv2": 1 layer of the prototxt needs weights and has none in the caffemodel: "conv2"; .* \(command line: --allow-missing-weights\)\.$/,
    );
    expect(existsSync(join(f.dir, 'more_inference.prototxt'))).toBe(false);
    const ok = await run([...args, '--allow-missing-weights']);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/folded 1 chain\(s\)/);
    expect(ok.out).toContain('warning: 1 layer(s) of the prototxt have no weights in the caffemodel: conv2');
    expect(existsSync(join(f.dir, 'more_inference.prototxt'))).toBe(true);
  });

  it('a file over 2 GB is refused with a message before it is read', async () => {
    const f = files();
    const huge = join(f.dir, 'huge.caffemodel');
    writeFileSync(huge, '');
    truncateSync(huge, 2 ** 31 + 10); // sparse: takes no disk space
    const r = await run(['--model', f.model, '--weights', huge]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/huge\.caffemodel: The file is 2\.00 GB; caffe-fold reads files up to 2 GB\. Caffe itself/);
  });

  it('npm run fold works as a command (exit codes)', async () => {
    const f = files();
    const ok = spawnSync('npx', ['tsx', 'src/cli/fold.ts', '--model', f.model, '--weights', f.weights, '-q'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(ok.status, ok.stderr).toBe(0);
    const bad = spawnSync('npx', ['tsx', 'src/cli/fold.ts', '--model', f.weights, '--weights', f.weights], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(
      /caffe-fold: tiny\.caffemodel: This is a binary \.caffemodel \(the weights\), given where the network definition/,
    );
  });
});
