/** Files dropped one at a time: a caffemodel alone, then its prototxt alone, load as one pair. */
import { describe, expect, it, vi } from 'vitest';

const opened = vi.hoisted(() => [] as { prototxt: File; caffemodel?: File }[]);
vi.mock('./session', () => ({
  session: {
    beginLoad: () => ({
      detect: async (f: File) => ({ ok: true, value: f.name.endsWith('.caffemodel') ? 'caffemodel' : 'prototxt' }),
      open: async (files: { prototxt: File; caffemodel?: File }) => {
        opened.push(files);
        return { ok: true, value: { summary: { netName: 'n' }, layout: { nodes: [], edges: [] } } };
      },
    }),
  },
}));

const { useAppStore } = await import('./store');
const file = (name: string) => new File(['x'], name);

describe('model slice: files dropped one at a time', () => {
  it('pairs a caffemodel dropped alone with the prototxt dropped after it', async () => {
    const weights = file('net.caffemodel');
    await useAppStore.getState().openFiles([weights]);
    expect(useAppStore.getState().notice).toContain('net.caffemodel holds weights only');
    await useAppStore.getState().openFiles([file('net.prototxt')]);
    expect(opened.at(-1)?.caffemodel).toBe(weights);
    expect(useAppStore.getState().files.caffemodel).toBe(weights);
  });

  it('does not pair a new prototxt with the weights of the model on screen', async () => {
    await useAppStore.getState().openFiles([file('other.prototxt')]);
    expect(opened.at(-1)?.prototxt.name).toBe('other.prototxt');
    expect(opened.at(-1)?.caffemodel).toBeUndefined();
  });
});

describe('model slice: files dropped during a fold', () => {
  it('stops the fold before the new files are read, so they load', async () => {
    const order: string[] = [];
    const { session } = await import('./session');
    Object.assign(session, { cancel: () => order.push('cancel') });
    useAppStore.setState({ job: { status: 'running', phase: 'fold', done: 0, total: 1 } });
    const begin = session.beginLoad;
    Object.assign(session, {
      beginLoad: () => {
        order.push('load');
        return begin();
      },
    });
    await useAppStore.getState().openFiles([file('next.prototxt')]);
    expect(order).toEqual(['cancel', 'load']);
    expect(opened.at(-1)?.prototxt.name).toBe('next.prototxt');
    expect(useAppStore.getState().job.status).toBe('idle');
  });
});

describe('model slice: "Load anyway"', () => {
  it('is withdrawn when another error takes the panel', () => {
    const prototxt = file('p.prototxt');
    useAppStore.setState({ pending: { prototxt }, error: { code: 'pair-missing-weights' } as never });
    useAppStore.getState().setError({ code: 'internal' } as never);
    expect(useAppStore.getState().pending).toBeUndefined();
  });
});
