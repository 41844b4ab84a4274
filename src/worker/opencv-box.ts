/**
 * opencv.js, boxed. The Emscripten module is a thenable whose `then` hands back the module itself, so a Promise
 * resolved with it adopts it again, forever — and a dynamic `import()` of opencv.js resolves with an object that
 * carries that `then` (the bundler's CommonJS interop copies the module's properties): the worker would spin in
 * microtasks. This module exports the engine inside a plain box, so `import('./opencv-box')` resolves with a namespace
 * that has no `then`.
 */
import cv from '@techstark/opencv-js';

export const box: { cv: unknown } = { cv };
