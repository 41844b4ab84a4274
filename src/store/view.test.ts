/** The side panel's details: an answer cancelled with the fold it waited behind is asked again, never left "on its way". */
import { describe, expect, it, vi } from 'vitest';
import { Cancelled } from './bridge';

const calls = vi.hoisted(() => ({ layerDetails: 0 }));
vi.mock('./session', () => ({
  session: {
    layerDetails: async (_side: string, name: string) => {
      calls.layerDetails++;
      if (calls.layerDetails === 1) throw new Cancelled();
      return { ok: true, value: { name } };
    },
  },
}));

const { useAppStore } = await import('./store');

describe('view slice: details', () => {
  it('asks again when the request was cancelled (a fold cancelled meanwhile) and the selection still stands', async () => {
    useAppStore.getState().select({ kind: 'layer', name: 'conv1' });
    await vi.waitFor(() => expect(useAppStore.getState().details?.value).toEqual({ name: 'conv1' }));
    expect(calls.layerDetails).toBe(2);
  });
});
