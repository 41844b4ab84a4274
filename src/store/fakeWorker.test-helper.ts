/**
 * For the sessions' unit tests: a fake worker API exposed over a MessageChannel, which WorkerBridge drives as it
 * drives a real Worker (comlink works over any message port). Ports are closed by closeFakeWorkers().
 */
import * as Comlink from 'comlink';
import type { WorkerLike } from './bridge';

const ports: MessagePort[] = [];

/** A port that serves `api`, and ends like a Worker does when terminated. */
export function fakeWorker(api: object): WorkerLike {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  Comlink.expose(api, port2);
  return Object.assign(port1, {
    terminate() {
      port1.close();
      port2.close();
    },
  });
}

export function closeFakeWorkers(): void {
  for (const p of ports) p.close();
  ports.length = 0;
}
