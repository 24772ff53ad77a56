/**
 * A Splunk HEC endpoint that discards what it receives (test/support/fake-hec.ts in discard mode), run as a child
 * process of the bench so that its CPU time is not counted in the export process's measurement. It still shares
 * the machine's cores with the export and with PostgreSQL.
 *
 * Protocol with the parent (IPC): it sends `{ url }` once listening; `stats` is answered with the request and byte
 * counts so far; `stop` closes it.
 */
import { FakeHec } from '../test/support/fake-hec.js';

export interface ReceiverStats {
  requests: number;
  bytes: number;
  /** CPU time this process has used so far (user + system), seconds: its share of the cores the export runs on. */
  cpuSeconds: number;
}

const { server } = await FakeHec.start({ discard: true });
const send = (message: unknown) => process.send?.(message);
send({ url: server.url });
process.on('message', (message: unknown) => {
  if (message === 'stats') {
    const cpu = process.cpuUsage();
    send({ requests: server.requestCount, bytes: server.bytesReceived, cpuSeconds: (cpu.user + cpu.system) / 1e6 } satisfies ReceiverStats);
  }
  if (message === 'stop') void server.close().finally(() => process.disconnect());
});
// The parent went away without saying stop: do not linger.
process.on('disconnect', () => void server.close());
