/**
 * `balise tail`: events as the running server judges them (GET /api/live, server-sent events),
 * one line each with the violations in words. Sampled under load: the server says how many
 * events it skipped, and tail prints that too.
 */
import type { Command } from 'commander';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { BaliseError, RemoteError } from '../errors.ts';
import type { LiveDelivery } from '../live/hub.ts';
import { describeLiveEvent, type LiveEvent } from '../live/model.ts';
import { requestApi, withQuery } from './client.ts';

export interface TailOptions {
  source?: string;
  event?: string;
  person?: string;
  verdict?: string;
  json?: boolean;
  /** Stop after this many events. */
  limit?: string;
}

export async function tail(opts: TailOptions, print: (line: string) => void = console.log, signal?: AbortSignal): Promise<number> {
  const limit = opts.limit === undefined ? Infinity : Number(opts.limit);
  if (!(limit > 0)) throw new BaliseError('usage', `--limit: expected a positive number, got "${opts.limit}"`);
  const path = withQuery('/api/live', { source: opts.source, event: opts.event, person: opts.person, verdict: opts.verdict });
  const controller = new AbortController();
  signal?.addEventListener('abort', () => controller.abort(), { once: true });
  const response = await requestApi('GET', path, undefined, undefined, controller.signal);
  if (!response.ok || !response.body) {
    const payload = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
    throw new RemoteError(payload.code ?? `http_${response.status}`, payload.message ?? `HTTP ${response.status}`);
  }
  let seen = 0;
  const reader = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  try {
    for (;;) {
      const { done, value: message } = await reader.read();
      if (done) break;
      if (message.event === 'ready' && !opts.json) print('watching live events (Ctrl-C to stop)');
      if (message.event !== 'events') continue;
      const delivery = JSON.parse(message.data) as LiveDelivery;
      const missed = delivery.dropped + delivery.sampledOut;
      if (missed > 0)
        print(
          opts.json
            ? JSON.stringify({ dropped: delivery.dropped, sampledOut: delivery.sampledOut })
            : `… ${delivery.sampledOut} event(s) not shown (sampled out under load), ${delivery.dropped} dropped (this terminal read too slowly)`,
        );
      for (const e of delivery.events as LiveEvent[]) {
        print(opts.json ? JSON.stringify(e) : describeLiveEvent(e));
        if (++seen >= limit) {
          controller.abort();
          return seen;
        }
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return seen;
}

export function registerTailCommand(program: Command): void {
  program
    .command('tail')
    .description('watch events as the server accepts or quarantines them, with the violations in words (sampled under load)')
    .option('--source <name>', 'only this write-key source or SDK library (context.library.name)')
    .option('--event <name>', 'only this event')
    .option('--person <id>', 'only this userId or anonymousId')
    .option('--verdict <verdict>', 'only valid, warned, unplanned, quarantined, accepted (stored) or flagged (warned or quarantined)')
    .option('--limit <n>', 'stop after n events')
    .option('--json', 'one JSON object per line')
    .action(async (opts: TailOptions) => {
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      await tail(opts, console.log, controller.signal);
    });
}
