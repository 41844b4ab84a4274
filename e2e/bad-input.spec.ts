/**
 * Bad input in the page: each case shows the error panel with what is wrong, where (file, byte offset, line:col,
 * layers) and what to do. The expected texts are the core's own errors for the same bytes, computed here in Node,
 * plus checks of our own on the location (the line and column of the typo, the offset inside the cut file).
 * And a fold that is cancelled leaves the model and the page as they were.
 */
import { test, expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatWhere, isCaffeFoldError } from '../src/core/errors';
import { detectKind, loadFiles } from '../src/core/pipeline';
import { readCaffemodel } from '../src/core/caffemodel';
import {
  R50_PROTOTXT,
  ROOT,
  SHARED_MISSING,
  SHARED_SKIP_MESSAGE,
  cliFold,
  downloadBytes,
  dropFiles,
  mobilenetV2Weights,
  type DropFile,
} from './fixtures';

const SAMPLE_PROTOTXT = join(ROOT, 'public', 'sample', 'sample.prototxt');
const SAMPLE_CAFFEMODEL = join(ROOT, 'public', 'sample', 'sample.caffemodel');
const prototxt = readFileSync(SAMPLE_PROTOTXT);
const caffemodel = readFileSync(SAMPLE_CAFFEMODEL);

interface Expected {
  what: string;
  where: string;
  hint: string;
}

/** The core's error for these inputs, as the page must show it. */
function coreError(fn: () => unknown): Expected {
  try {
    fn();
  } catch (e) {
    if (!isCaffeFoldError(e)) throw e;
    return { what: e.what, where: formatWhere(e.where), hint: e.hint };
  }
  throw new Error('the core accepted input that should be refused');
}

const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.length);

async function expectPanel(page: Page, e: Expected) {
  const panel = page.getByTestId('error-panel');
  await expect(panel).toBeVisible();
  await expect(panel.getByRole('heading')).toHaveText('This file cannot be used');
  await expect(panel.locator('.error-what')).toHaveText(e.what);
  await expect(panel.locator('.error-where code')).toHaveText(e.where);
  await expect(panel.locator('.error-hint')).toContainText('What to do');
  await expect(panel.locator('.error-hint')).toContainText(e.hint);
}

async function open(page: Page, files: DropFile[], how: 'drop' | 'input') {
  if (how === 'drop') await dropFiles(page, files);
  else
    await page
      .locator('input[type=file]')
      .setInputFiles(files.map((f) => ({ name: f.name, mimeType: 'application/octet-stream', buffer: f.body })));
}

test.describe('bad input shows the error panel: what, where, what to do', () => {
  test('an empty file', async ({ page }) => {
    await page.goto('/');
    await open(page, [{ name: 'empty.caffemodel', body: Buffer.alloc(0) }], 'input');
    await expectPanel(page, {
      what: 'The file is empty.',
      where: 'empty.caffemodel',
      hint: 'The download or copy may have failed: get the file again.',
    });
    await expect(page.getByRole('heading', { name: 'Drop a Caffe model here' })).toBeVisible();
  });

  test('a caffemodel cut at half: the byte offset of the field that runs past the end', async ({ page }) => {
    const half = caffemodel.subarray(0, Math.floor(caffemodel.length / 2));
    const expected = coreError(() =>
      loadFiles({ name: 'sample.prototxt', bytes: u8(prototxt) }, { name: 'half.caffemodel', bytes: u8(half) }),
    );
    // Our own reading of the location: a length-delimited field starting at `offset` claims more than is left.
    const m = /^half\.caffemodel at byte (\d+)$/.exec(expected.where);
    expect(m, expected.where).not.toBeNull();
    const offset = Number(m![1]);
    expect(offset).toBeLessThan(half.length);
    const said = /says it is (\d+) bytes long, but only (\d+) remain/.exec(expected.what);
    expect(said, expected.what).not.toBeNull();
    const [claimed, remain] = [Number(said![1]), Number(said![2])];
    expect(claimed).toBeGreaterThan(remain);
    // tag + length varint sit between the field's start and its payload, which runs to the end of the cut file.
    expect(half.length - remain - offset).toBeGreaterThan(0);
    expect(half.length - remain - offset).toBeLessThanOrEqual(15);
    expect(offset + claimed).toBeLessThanOrEqual(caffemodel.length);

    await page.goto('/');
    await open(
      page,
      [
        { name: 'sample.prototxt', body: prototxt },
        { name: 'half.caffemodel', body: half },
      ],
      'drop',
    );
    await expectPanel(page, expected);
    await page.screenshot({ path: join(ROOT, 'test-results', 'error-panel-truncated.png') });
  });

  test('a prototxt with a syntax error: line and column of the typo', async ({ page }) => {
    const text = prototxt.toString('utf8').replace('num_output: 16', 'num_output 16');
    const at = text.indexOf('num_output 16') + 'num_output '.length;
    const line = text.slice(0, at).split('\n').length;
    const col = at - text.lastIndexOf('\n', at - 1);
    const expected = coreError(() => loadFiles({ name: 'broken.prototxt', bytes: new TextEncoder().encode(text) }));
    expect(expected.where).toBe(`broken.prototxt:${line}:${col}`);
    expect(expected.what).toContain('num_output');

    await page.goto('/');
    await open(page, [{ name: 'broken.prototxt', body: Buffer.from(text) }], 'input');
    await expectPanel(page, expected);
  });

  test('an ONNX model (0x08, then "pytorch")', async ({ page }) => {
    const body = Buffer.concat([Buffer.from([0x08]), Buffer.from('pytorch')]);
    const expected = coreError(() => detectKind(u8(body), 'model.onnx'));
    expect(expected.what).toContain('ONNX');
    await page.goto('/');
    await open(page, [{ name: 'model.onnx', body }], 'drop');
    await expectPanel(page, expected);
  });

  test('a zip archive', async ({ page }) => {
    const body = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(40, 0x11)]);
    const expected = coreError(() => detectKind(u8(body), 'models.zip'));
    expect(expected.what).toContain('zip');
    await page.goto('/');
    await open(page, [{ name: 'models.zip', body }], 'input');
    await expectPanel(page, expected);
  });

  test('a caffemodel with the prototxt of another network: the layers that do not match', async ({ page }) => {
    const tiny = [
      'name: "Tiny"',
      'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }',
      'layer { name: "stem" type: "Convolution" bottom: "data" top: "stem" convolution_param { num_output: 4 kernel_size: 3 } }',
      'layer { name: "stem_bn" type: "BatchNorm" bottom: "stem" top: "stem" batch_norm_param { use_global_stats: true } }',
      'layer { name: "stem_scale" type: "Scale" bottom: "stem" top: "stem" scale_param { bias_term: true } }',
      '',
    ].join('\n');
    const expected = coreError(() =>
      loadFiles(
        { name: 'tiny.prototxt', bytes: new TextEncoder().encode(tiny) },
        { name: 'sample.caffemodel', bytes: u8(caffemodel) },
      ),
    );
    // The message names the caffemodel's first weighted layers, none of which the prototxt has.
    const weighted = readCaffemodel(u8(caffemodel))
      .layers.filter((l) => l.blobs.length > 0)
      .map((l) => l.name);
    for (const name of weighted.slice(0, 3)) {
      expect(expected.what).toContain(`"${name}"`);
      expect(tiny).not.toContain(`"${name}"`);
    }
    expect(expected.what).toContain(String(new Set(weighted).size));

    await page.goto('/');
    await open(
      page,
      [
        { name: 'tiny.prototxt', body: Buffer.from(tiny) },
        { name: 'sample.caffemodel', body: caffemodel },
      ],
      'drop',
    );
    await expectPanel(page, expected);
  });

  test('a prototxt that names one layer differently: refused, naming the layer without weights; "Load anyway" loads it', async ({
    page,
  }) => {
    const renamed = prototxt.toString('utf8').replace('name: "conv1"', 'name: "conv_first"');
    expect(renamed).not.toBe(prototxt.toString('utf8'));
    const proto = { name: 'renamed.prototxt', bytes: new TextEncoder().encode(renamed) };
    const weights = { name: 'sample.caffemodel', bytes: u8(caffemodel) };
    const expected = coreError(() => loadFiles(proto, weights));
    expect(expected.what).toContain('"conv_first"');
    expect(expected.where).toBe('renamed.prototxt, layer "conv_first"');
    const loaded = loadFiles(proto, weights, { allowMissingWeights: true });
    expect(loaded.pairing).toEqual({ missing: ['conv_first'], unused: ['conv1'] });
    await page.goto('/');
    await open(
      page,
      [
        { name: 'renamed.prototxt', body: Buffer.from(renamed) },
        { name: 'sample.caffemodel', body: caffemodel },
      ],
      'drop',
    );
    await expectPanel(page, expected);
    await expect(page.getByTestId('error-panel').locator('.error-code')).toHaveText('code: pair-missing-weights');
    await expect(page.getByRole('heading', { name: 'Drop a Caffe model here' })).toBeVisible();

    await page.getByRole('button', { name: 'Load anyway' }).click();
    await expect(page.getByTestId('error-panel')).toBeHidden();
    await expect(page.getByTestId('summary')).toContainText('1 layer without weights');
    await expect(page.getByTestId('count-chains')).toHaveText(`${loaded.analysis.chains.length} chains foldable`);
    const warnings = page.locator('.warning-list li');
    await expect(warnings).toHaveText(
      loaded.analysis.warnings.map((w) => `${w.layer ? `${w.layer}: ` : ''}${w.message}`),
    );
    await expect(warnings.filter({ hasText: 'conv_first' })).toHaveCount(1);
    await expect(warnings.filter({ hasText: 'conv1' })).toHaveCount(1);
  });

  test("ResNet-50's prototxt with MobileNet v2's caffemodel: refused, naming conv1 and both shapes", async ({
    page,
  }) => {
    test.skip(SHARED_MISSING, SHARED_SKIP_MESSAGE);
    const r50 = readFileSync(R50_PROTOTXT);
    const mbv2 = readFileSync(mobilenetV2Weights());
    const expected = coreError(() =>
      loadFiles(
        { name: 'resnet50_deploy.prototxt', bytes: u8(r50) },
        { name: 'mobilenet_v2.caffemodel', bytes: u8(mbv2) },
      ),
    );
    expect(expected.where).toBe('mobilenet_v2.caffemodel, layer "conv1"');
    expect(expected.what).toContain('[32, 3, 3, 3]');
    expect(expected.what).toContain('[64, 3, 7, 7]');
    expect(expected.hint).toContain('These weights belong to another network');

    await page.goto('/');
    await open(
      page,
      [
        { name: 'resnet50_deploy.prototxt', body: r50 },
        { name: 'mobilenet_v2.caffemodel', body: mbv2 },
      ],
      'drop',
    );
    await expectPanel(page, expected);
    await expect(page.getByTestId('error-panel').locator('.error-code')).toHaveText('code: pair-blob-count');
    // Not a pair to load anyway: no such button, and nothing is drawn.
    await expect(page.getByRole('button', { name: 'Load anyway' })).toHaveCount(0);
    await expect(page.getByRole('heading', { name: 'Drop a Caffe model here' })).toBeVisible();
    await expect(page.getByTestId('graph')).toBeHidden();
  });

  test('a prototxt without layers: refused with or without weights', async ({ page }) => {
    const text = 'name: "Nothing"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n';
    const expected = coreError(() => loadFiles({ name: 'nothing.prototxt', bytes: new TextEncoder().encode(text) }));
    expect(expected.what).toContain('no layers');
    await page.goto('/');
    await open(page, [{ name: 'nothing.prototxt', body: Buffer.from(text) }], 'input');
    await expectPanel(page, expected);
    await page.getByRole('button', { name: 'Dismiss error' }).click();
    await open(
      page,
      [
        { name: 'nothing.prototxt', body: Buffer.from(text) },
        { name: 'sample.caffemodel', body: caffemodel },
      ],
      'drop',
    );
    await expectPanel(page, expected);
  });

  test('a bad file, or files that fail to load, dropped on a loaded model show the panel and keep the model', async ({
    page,
  }) => {
    await page.goto('/');
    await open(
      page,
      [
        { name: 'sample.prototxt', body: prototxt },
        { name: 'sample.caffemodel', body: caffemodel },
      ],
      'drop',
    );
    await expect(page.getByTestId('count-chains')).toHaveText('7 chains foldable');
    const body = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(40)]);
    await dropFiles(page, [{ name: 'models.zip', body }], '.app');
    await expectPanel(
      page,
      coreError(() => detectKind(u8(body), 'models.zip')),
    );
    await expect(page.getByTestId('graph')).toBeVisible();
    await expect(page.getByTestId('count-chains')).toHaveText('7 chains foldable');
    await page.getByRole('button', { name: 'Dismiss error' }).click();

    // Files that are read and fail to parse (a caffemodel cut at half, with another network's name) keep the model
    // too: the old one stays in the worker until the new files have loaded.
    const half = caffemodel.subarray(0, Math.floor(caffemodel.length / 2));
    const halfError = coreError(() =>
      loadFiles({ name: 'other.prototxt', bytes: u8(prototxt) }, { name: 'half.caffemodel', bytes: u8(half) }),
    );
    await dropFiles(
      page,
      [
        { name: 'other.prototxt', body: prototxt },
        { name: 'half.caffemodel', body: half },
      ],
      '.app',
    );
    await expectPanel(page, halfError);
    await expect(page.getByTestId('graph')).toBeVisible();
    await expect(page.getByTestId('count-chains')).toHaveText('7 chains foldable');
    await expect(page.getByLabel('Loaded files')).toContainText('sample.caffemodel');
    await page.getByRole('button', { name: 'Dismiss error' }).click();

    await page.getByRole('button', { name: 'Fold 7 chains' }).click();
    await expect(page.getByText('✓ Folded')).toBeVisible({ timeout: 60_000 });
  });
});

/**
 * Holds the worker's answers to `fold` (the main thread's view of a fold still running) while
 * window.__e2eHoldFold is set. The worker itself folds and reports its phases as usual.
 */
function holdFoldAnswers() {
  const w = window as unknown as { __e2eHoldFold: boolean };
  w.__e2eHoldFold = false;
  const held = new Set<string>();
  const wrapped = new WeakMap<object, EventListener>();
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (this: Worker, msg: unknown, ...rest: unknown[]) {
    const m = msg as { id?: string; path?: string[] } | null;
    if (w.__e2eHoldFold && m && typeof m.id === 'string' && m.path?.[0] === 'fold') held.add(m.id);
    return (post as (...a: unknown[]) => void).call(this, msg, ...rest);
  } as Worker['postMessage'];
  const add = Worker.prototype.addEventListener;
  const remove = Worker.prototype.removeEventListener;
  Worker.prototype.addEventListener = function (
    this: Worker,
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ) {
    if (type !== 'message') return add.call(this, type, listener, options);
    const call = (ev: Event) => (typeof listener === 'function' ? listener.call(this, ev) : listener.handleEvent(ev));
    const filter: EventListener = (ev) => {
      const id = ((ev as MessageEvent).data as { id?: string } | null)?.id;
      if (id !== undefined && held.has(id)) return; // dropped: the fold stays "running" until Cancel
      call(ev);
    };
    wrapped.set(listener, filter);
    return add.call(this, type, filter, options);
  } as Worker['addEventListener'];
  Worker.prototype.removeEventListener = function (
    this: Worker,
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | EventListenerOptions,
  ) {
    return remove.call(this, type, wrapped.get(listener) ?? listener, options);
  } as Worker['removeEventListener'];
}

test('a cancelled fold leaves the model and the page as they were; the next fold succeeds', async ({ page }) => {
  const reference = cliFold(SAMPLE_PROTOTXT, SAMPLE_CAFFEMODEL, 'sample');
  await page.addInitScript(holdFoldAnswers);
  await page.goto('/');
  await open(
    page,
    [
      { name: 'sample.prototxt', body: prototxt },
      { name: 'sample.caffemodel', body: caffemodel },
    ],
    'drop',
  );
  await expect(page.getByTestId('count-chains')).toHaveText('7 chains foldable');
  // One chain kept by the user: that choice must survive the cancel too.
  await page.getByRole('switch', { name: 'Fold Conv+BN+Scale at conv1' }).uncheck({ force: true });
  await expect(page.getByTestId('count-chains')).toHaveText('6 chains foldable');
  const removed = await page.getByTestId('count-removed').textContent();
  // Only the nodes on screen are in the DOM; the graph's label counts them all.
  const nodes = await page.locator('.react-flow__node').count();
  expect(nodes).toBeGreaterThan(3);
  await expect(page.getByText('Loaded model · 16 nodes')).toBeVisible();

  await page.evaluate(() => ((window as unknown as { __e2eHoldFold: boolean }).__e2eHoldFold = true));
  await page.getByRole('button', { name: 'Fold 6 chains' }).click();
  const progress = page.getByRole('group', { name: 'Fold progress' });
  await expect(progress).toBeVisible();
  await page.getByRole('button', { name: 'Cancel the fold' }).click();

  await expect(progress).toBeHidden();
  await expect(page.getByTestId('error-panel')).toBeHidden();
  await expect(page.getByTestId('graph')).toBeVisible();
  await expect(page.getByTestId('graph')).toHaveAttribute('data-side', 'before');
  await expect(page.getByTestId('summary')).toBeVisible();
  await expect(page.getByTestId('count-chains')).toHaveText('6 chains foldable');
  await expect(page.getByTestId('count-removed')).toHaveText(removed!);
  await expect(page.locator('.react-flow__node')).toHaveCount(nodes);
  await expect(page.getByText('Loaded model · 16 nodes')).toBeVisible();
  await expect(page.getByRole('group', { name: 'Downloads' })).toBeHidden();
  await expect(page.getByRole('switch', { name: 'Fold Conv+BN+Scale at conv1' })).not.toBeChecked();

  // The second fold, with the chain switched back on, runs to the end and writes what the CLI writes.
  await page.evaluate(() => ((window as unknown as { __e2eHoldFold: boolean }).__e2eHoldFold = false));
  await page.getByRole('switch', { name: 'Fold Conv+BN+Scale at conv1' }).check({ force: true });
  await page.getByRole('button', { name: 'Fold 7 chains' }).click();
  await expect(page.getByText('✓ Folded')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('graph')).toHaveAttribute('data-side', 'after');
  const proto = await downloadBytes(page, 'Download sample_inference.prototxt');
  const model = await downloadBytes(page, 'Download sample_inference.caffemodel');
  expect(proto.bytes.equals(readFileSync(reference.prototxt))).toBe(true);
  expect(model.bytes.equals(readFileSync(reference.caffemodel))).toBe(true);
});
