// SDK bench: browser core size (min + gzip) and Node track() throughput with a no-op transport,
// against a baseline measured in the same run (pushing equivalent objects into a plain array).
// Run: node sdk/bench.mjs   (tsx is used to load the TypeScript source)
import { register } from 'tsx/esm/api';
import { buildSdk } from './build.mjs';

register();
const { createBalise } = await import('./src/node.ts');

const { minified, gzipped } = await buildSdk();
console.log(`browser core (dist/balise.browser.min.js): ${minified} B minified, ${gzipped} B min+gzip — budget 3072 B ${gzipped <= 3072 ? 'OK' : 'OVER'}`);

const CHUNK = 5000; // below the default 10,000 queue bound: nothing is dropped between flushes
const ROUNDS = Number(process.env.ROUNDS ?? 60);
const props = { mission_id: 'm_123', daily_rate: 550, currency: 'EUR' };

/** Times only the enqueue loop; flushing (serialisation, no-op send) happens between rounds. */
async function measure(label, setup) {
  const { call, after } = setup();
  let ns = 0n;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CHUNK; i++) call(i);
    ns += process.hrtime.bigint() - t0;
    await after();
  }
  const perSec = (ROUNDS * CHUNK) / (Number(ns) / 1e9);
  console.log(`${label}: ${Math.round(perSec).toLocaleString('en')} calls/s`);
  return perSec;
}

const sdkSetup = () => {
  const sdk = createBalise({ writeKey: 'wk', flushOnExit: false, flushAt: 1e9, transport: async () => ({ status: 200 }) });
  return { call: (i) => sdk.track('proposal_sent', props, { userId: 'u' + (i & 1023) }), after: () => sdk.flush(), sdk };
};
const baselineSetup = () => {
  let arr = [];
  return {
    call: (i) => arr.push({ type: 'track', event: 'proposal_sent', properties: props, userId: 'u' + (i & 1023) }),
    after: async () => void (arr = []),
  };
};

// Warm up both paths so that the JIT has settled before measuring.
await measure('warm-up sdk', sdkSetup);
await measure('warm-up baseline', baselineSetup);
const base = await measure('baseline: push event-shaped objects into an array', baselineSetup);
const sdk = await measure('sdk: track() enqueued (messageId, ISO timestamp, context, bound checks)', sdkSetup);
console.log(`ratio sdk/baseline: ${(sdk / base).toFixed(3)} — target ≥ 200,000 track()/s: ${sdk >= 200_000 ? 'OK' : 'MISSED'}`);
