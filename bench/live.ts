/**
 * Live view bench: what the ingest's per-request work (processEvents + the hub) costs with the
 * live view in each state, as a ratio to the same work without a hub, in the same run:
 *   - nobody watching (the usual case: one comparison per request);
 *   - one viewer reading (rate cap 200 events/s: under a flood most events are counted, not built);
 *   - one viewer that never reads (its socket full: the hub only counts what it drops).
 *
 *   npx tsx bench/live.ts [--requests 4000]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { processEvents } from '../src/ingest/process.ts';
import { LiveHub } from '../src/live/hub.ts';
import { loadPlanValidator } from '../src/plan/compile.ts';
import { printResult, round } from './lib.ts';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '4000' } } });
const REQUESTS = Number(values.requests);
const BATCH = 50;
const validator = await loadPlanValidator(path.resolve(import.meta.dirname, '../tests/fixtures/live-bench-plan'));
const batch = Array.from({ length: BATCH }, (_, i) => ({ type: 'track', event: 'order_placed', userId: `u${i}`, messageId: `m${i}`, properties: { total: i, note: 'n' } }));

async function run(hub: LiveHub | undefined): Promise<number> {
  const started = process.hrtime.bigint();
  for (let r = 0; r < REQUESTS; r++) {
    const processed = processEvents(batch, validator, { receivedAt: Date.now(), source: 'bench', maxEventBytes: 32_000, piiKey: 'bench-pii-key', liveBudget: hub?.take(BATCH) ?? 0 });
    if (hub && processed.live.length) hub.publish(processed.live);
    // Let the hub's deliveries run, as the event loop would between requests.
    if (r % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const idle = new LiveHub();
const reading = new LiveHub();
reading.subscribe({}, () => true);
const hung = new LiveHub({ queueSize: 1000 });
hung.subscribe({}, () => false);
const flood = new LiveHub({ maxPerSecond: 1e9 });
flood.subscribe({}, () => true);

await run(undefined); // warm-up
const results: { label: string; ms: number }[] = [];
for (const [label, hub] of [
  ['no hub (baseline)', undefined],
  ['hub, nobody watching', idle],
  ['one viewer reading (cap 200/s)', reading],
  ['one viewer that never reads', hung],
  ['one viewer, no rate cap (every event built)', flood],
] as const) {
  results.push({ label, ms: await run(hub) });
}
const base = results[0]!;
for (const r of results) console.log(`${r.label.padEnd(48)} ${round(r.ms).toString().padStart(8)} ms  ratio ${round(r.ms / base.ms, 3)}`);
printResult(
  'live',
  results.slice(1).map((r) => ({
    name: `${REQUESTS} requests of ${BATCH} events: ${r.label}`,
    value: round(r.ms),
    unit: 'ms',
    baseline: { name: base.label, value: round(base.ms), unit: 'ms' },
    ratio: round(r.ms / base.ms, 3),
  })),
);
