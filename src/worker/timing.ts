/**
 * Phase timings of the worker's work, kept as numbers for the caller and recorded as User Timing measures
 * (`caffe-fold <phase>`), so the browser's performance panel and the benchmark see the same phases.
 */
import type { Timings } from './types';

export type Phase = keyof Timings;

export class PhaseTimer {
  readonly timings: Timings = {};
  private last = performance.now();

  /** The phase that just ended; its time runs from the previous end (or the timer's start). */
  end(phase: Phase): void {
    const now = performance.now();
    this.timings[phase] = (this.timings[phase] ?? 0) + (now - this.last);
    try {
      performance.measure(`caffe-fold ${phase}`, { start: this.last, end: now });
    } catch {
      /* User Timing unavailable: the numbers are still returned */
    }
    this.last = now;
  }

  /** Forget the time since the last end (e.g. time spent waiting on the caller). */
  restart(): void {
    this.last = performance.now();
  }
}
