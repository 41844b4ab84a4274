/**
 * Deploy prototxts of the original (Kaiming He) Caffe ResNets, 50/101/152 layers deep, written the way the
 * published files are: same layer names, order and parameters. ResNet-152 (670 layers) is not in the shared
 * corpus; the generator is checked against the corpus's ResNet-50 and ResNet-101 byte for byte
 * (test/resnet-prototxt.test.ts).
 */

const BLOCKS: Record<number, number[]> = { 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3] };

const layer = (lines: string[]) => `layer {\n${lines.map((l) => `\t${l}`).join('\n')}\n}\n\n`;

const conv = (bottom: string, name: string, out: number, k: number, pad: number, stride: number, bias = false) =>
  layer([
    `bottom: "${bottom}"`,
    `top: "${name}"`,
    `name: "${name}"`,
    'type: "Convolution"',
    'convolution_param {',
    `\tnum_output: ${out}`,
    `\tkernel_size: ${k}`,
    `\tpad: ${pad}`,
    `\tstride: ${stride}`,
    ...(bias ? [] : ['\tbias_term: false']),
    '}',
  ]);
const bnScale = (top: string, suffix: string) =>
  layer([
    `bottom: "${top}"`,
    `top: "${top}"`,
    `name: "bn${suffix}"`,
    'type: "BatchNorm"',
    'batch_norm_param {',
    '\tuse_global_stats: true',
    '}',
  ]) +
  layer([
    `bottom: "${top}"`,
    `top: "${top}"`,
    `name: "scale${suffix}"`,
    'type: "Scale"',
    'scale_param {',
    '\tbias_term: true',
    '}',
  ]);
const relu = (top: string, topFirst: boolean) =>
  layer(
    topFirst
      ? [`top: "${top}"`, `bottom: "${top}"`, `name: "${top}_relu"`, 'type: "ReLU"']
      : [`bottom: "${top}"`, `top: "${top}"`, `name: "${top}_relu"`, 'type: "ReLU"'],
  );

/** Block names: a, b, c, … for ResNet-50; a, b1, b2, … where a stage has more blocks than letters were used for. */
function blockName(stage: number, i: number, depth: number): string {
  if (depth === 50 || (stage !== 3 && stage !== 4)) return String.fromCharCode(97 + i);
  return i === 0 ? 'a' : `b${i}`;
}

export function resnetDeploy(depth: 50 | 101 | 152): string {
  const blocks = BLOCKS[depth];
  // The published ResNet-50 differs in two details of style: conv1 has a bias, and every ReLU names its bottom first.
  const topFirst = depth !== 50;
  let s = `name: "ResNet-${depth}"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 224\ninput_dim: 224\n\n`;
  s += conv('data', 'conv1', 64, 7, 3, 2, depth === 50) + bnScale('conv1', '_conv1') + relu('conv1', topFirst);
  s += layer([
    'bottom: "conv1"',
    'top: "pool1"',
    'name: "pool1"',
    'type: "Pooling"',
    'pooling_param {',
    '\tkernel_size: 3',
    '\tstride: 2',
    '\tpool: MAX',
    '}',
  ]);
  let bottom = 'pool1';
  blocks.forEach((n, si) => {
    const stage = si + 2;
    const width = 64 << si;
    for (let i = 0; i < n; i++) {
      const b = `${stage}${blockName(stage, i, depth)}`;
      const stride = i === 0 && stage > 2 ? 2 : 1;
      let shortcut = bottom;
      if (i === 0) {
        s += conv(bottom, `res${b}_branch1`, width * 4, 1, 0, stride) + bnScale(`res${b}_branch1`, `${b}_branch1`);
        shortcut = `res${b}_branch1`;
      }
      s +=
        conv(bottom, `res${b}_branch2a`, width, 1, 0, stride) +
        bnScale(`res${b}_branch2a`, `${b}_branch2a`) +
        relu(`res${b}_branch2a`, topFirst);
      s +=
        conv(`res${b}_branch2a`, `res${b}_branch2b`, width, 3, 1, 1) +
        bnScale(`res${b}_branch2b`, `${b}_branch2b`) +
        relu(`res${b}_branch2b`, topFirst);
      s +=
        conv(`res${b}_branch2b`, `res${b}_branch2c`, width * 4, 1, 0, 1) + bnScale(`res${b}_branch2c`, `${b}_branch2c`);
      s += layer([
        `bottom: "${shortcut}"`,
        `bottom: "res${b}_branch2c"`,
        `top: "res${b}"`,
        `name: "res${b}"`,
        'type: "Eltwise"',
      ]);
      s += relu(`res${b}`, false);
      bottom = `res${b}`;
    }
  });
  s += layer([
    `bottom: "${bottom}"`,
    'top: "pool5"',
    'name: "pool5"',
    'type: "Pooling"',
    'pooling_param {',
    '\tkernel_size: 7',
    '\tstride: 1',
    '\tpool: AVE',
    '}',
  ]);
  s += layer([
    'bottom: "pool5"',
    'top: "fc1000"',
    'name: "fc1000"',
    'type: "InnerProduct"',
    'inner_product_param {',
    '\tnum_output: 1000',
    '}',
  ]);
  s += layer(['bottom: "fc1000"', 'top: "prob"', 'name: "prob"', 'type: "Softmax"']);
  return s;
}
