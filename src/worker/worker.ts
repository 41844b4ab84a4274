/// <reference lib="webworker" />
/** The worker's entry: exposes the API through comlink. */
import * as Comlink from 'comlink';
import { api } from './api';

// elk.bundled.js, when loaded inside a worker, installs its own `self.onmessage` dispatcher; we run ELK in this
// thread through its API, so take the handler back (comlink listens with addEventListener).
(self as unknown as { onmessage: unknown }).onmessage = null;

Comlink.expose(api);
