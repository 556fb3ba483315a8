/**
 * Sends demo calls through the real Node SDK to a running Balise API. The SDK queues, batches
 * and retries; we only keep its queue bounded (await flushes) so nothing is dropped.
 */
import { createBalise, type NodeBalise } from '../../sdk/src/node.ts';
import type { DemoCall } from './generate.ts';

export interface SendReport {
  sent: number;
  dropped: number;
  rejected: number;
  retries: number;
}

export interface SendOptions {
  host: string;
  writeKey: string;
  onProgress?: (done: number) => void;
  /** Calls between forced flushes (and progress updates). */
  chunk?: number;
}

function dispatch(balise: NodeBalise, call: DemoCall): void {
  // Server-side calls say whom they are about; the generator's deterministic messageId: running
  // the demo twice stores each event once.
  const options = { userId: call.userId, anonymousId: call.anonymousId, timestamp: call.timestamp, messageId: call.messageId };
  if (call.type === 'track') balise.track(call.event, call.properties ?? {}, options);
  else if (call.type === 'page') balise.page(call.event, call.properties ?? {}, options);
  else balise.identify(call.userId, call.traits ?? {}, options);
}

export async function sendDemoCalls(calls: readonly DemoCall[], opts: SendOptions): Promise<SendReport> {
  const chunk = opts.chunk ?? 500;
  const balise = createBalise({ writeKey: opts.writeKey, host: opts.host, flushAt: chunk, flushInterval: 1000, maxQueueSize: chunk * 20, flushOnExit: false, context: { source: 'balise-demo' } });
  for (let i = 0; i < calls.length; i++) {
    dispatch(balise, calls[i] as DemoCall);
    if ((i + 1) % chunk === 0 || i === calls.length - 1) {
      await balise.flush();
      // Backpressure: the API answered 429/503 and the SDK scheduled a retry; wait for it.
      while (balise.stats().queued > chunk * 10) await new Promise((resolve) => setTimeout(resolve, 200));
      opts.onProgress?.(i + 1);
    }
  }
  await balise.close(120_000);
  const stats = balise.stats();
  return { sent: stats.sent, dropped: stats.dropped, rejected: stats.rejected, retries: stats.retries };
}
