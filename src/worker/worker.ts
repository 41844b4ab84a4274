/// <reference lib="webworker" />
/** The worker's entry: exposes the API through comlink. */
import * as Comlink from 'comlink';
import { api } from './api';

Comlink.expose(api);
