/**
 * The worker's fold works in place over the loaded weights. Whatever way it ends, the worker must not keep those
 * weights as "the model": the next fold would fold them a second time, and its proof would compare against the
 * already folded weights.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';

const output = vi.hoisted(() => ({ fail: false }));
vi.mock('./output', () => ({
  makeOutput: async (_name: string, chunks: Uint8Array[]) => {
    if (output.fail) throw new Error('The disk is full.');
    return { kind: 'blob', file: new Blob(chunks as BlobPart[]) };
  },
}));

const { api } = await import('./api');

const sample = (name: string) => ({ name, file: new Blob([readFileSync(`public/sample/${name}`)]) });

async function loadSample() {
  const r = await api.load(sample('sample.prototxt'), sample('sample.caffemodel'));
  expect(r.ok).toBe(true);
  expect(await api.hasModel()).toBe(true);
}

describe('worker fold', () => {
  it('drops the loaded model after a fold (its weights are folded now)', async () => {
    await loadSample();
    output.fail = false;
    const r = await api.fold({ skip: [] });
    expect(r.ok).toBe(true);
    expect(await api.hasModel()).toBe(false);
  });

  it('drops it too when the fold fails half-way, after the weights were folded', async () => {
    await loadSample();
    output.fail = true;
    const r = await api.fold({ skip: [] });
    expect(r.ok).toBe(false);
    expect(await api.hasModel()).toBe(false);
  });
});
