/// <reference lib="webworker" />
/** The worker's entry: exposes the API through comlink. */
import * as Comlink from 'comlink';
import { api } from './api';
import { clearStaleOutputs } from './output';

Comlink.expose(api);
// Outputs of closed tabs and stopped workers are not kept on disk.
void clearStaleOutputs();
