/// <reference lib="webworker" />
/**
 * The check worker's entry: exposes the whole-net check through comlink. Served with a policy of its own that
 * allows eval and WebAssembly compilation (opencv.js needs both), the page's own policy staying strict: see
 * vite.config.ts.
 */
import * as Comlink from 'comlink';
import { checkApi } from './check-api';

Comlink.expose(checkApi);
