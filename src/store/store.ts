/**
 * The app's one store, made of typed slices (zustand's slices pattern), one per file: model (files, load, graphs,
 * the error panel), view (which graph, selection, details), job (fold options, progress, results, downloads), check
 * (the whole-net check) and compare. A slice writes only its own fields, and asks another slice through its
 * actions. Derived data lives in selectors (selectors.ts); the workers live behind the sessions (session.ts,
 * checkSession.ts).
 */
import { create, type StateCreator } from 'zustand';
import { createCheckSlice, type CheckSlice } from './check';
import { createCompareSlice, type CompareSlice } from './compare';
import { createJobSlice, type JobSlice } from './job';
import { createModelSlice, type ModelSlice } from './model';
import { createViewSlice, type ViewSlice } from './view';

export type AppState = ModelSlice & ViewSlice & JobSlice & CheckSlice & CompareSlice;
export type Slice<T> = StateCreator<AppState, [], [], T>;
export type SetState = Parameters<Slice<AppState>>[0];
export type GetState = () => AppState;

export const useAppStore = create<AppState>()((...a) => ({
  ...createModelSlice(...a),
  ...createViewSlice(...a),
  ...createJobSlice(...a),
  ...createCheckSlice(...a),
  ...createCompareSlice(...a),
}));
