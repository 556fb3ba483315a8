/**
 * What the alert rules measure, on the real engine, against what data health shows. Found
 * 2026-12-05: a violation rate counted replayed events as still quarantined (and a resend twice),
 * and "never received" or "stale" ignored events that arrived and were quarantined.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { measure, type MeasureDeps } from '../../src/alerts/measure.ts';
import type { Warehouse } from '../../src/warehouse/client.ts';
import { clearEvents, openTestWarehouse, type TestWarehouse } from '../helpers/engine.ts';
import { insertWorld } from '../helpers/known-world.ts';

let engine: TestWarehouse | undefined;
let warehouse: Warehouse;
const NOW = Date.parse('2026-12-05T12:00:00Z');
const deps = (): MeasureDeps => ({ warehouse, now: NOW, kpis: async () => ({ funnels: [], metrics: [], retention: [] }), deadLetterCount: async () => 0 });

beforeAll(async () => {
  engine = await openTestWarehouse('alert-measures');
  warehouse = engine.warehouse;
});
afterAll(async () => {
  await engine?.close();
});
beforeEach(async () => {
  await clearEvents(warehouse);
  for (const table of ['quarantine', 'quarantine_replays']) await warehouse.client.command({ query: `TRUNCATE TABLE ${table}` });
});

async function quarantine(messageId: string, event: string, at: number): Promise<void> {
  const row = { message_id: messageId, received_at: at, source: 'test', type: 'track', event, plan_version: '2.0.0', reasons: ['required'], violations: '[]', raw: '{}' };
  await warehouse.client.exec({ query: 'INSERT INTO quarantine FORMAT JSONEachRow', values: Readable.from([JSON.stringify(row)]) });
}

describe('alert measures', () => {
  it('a violation rate counts each event once and a quarantined one no longer once replayed or resent and stored', async () => {
    const at = NOW - 10 * 60_000;
    // Stored: 6 events, one of them the stored resend of q-resent, one of them the replay of q-replayed.
    await insertWorld(warehouse, [
      ...Array.from({ length: 4 }, (_, i) => ({ event: 'mission_posted', user: 'u1', at, id: `ok-${i}` })),
      { event: 'mission_posted', user: 'u1', at: at + 1000, id: 'q-resent' },
      { event: 'mission_posted', user: 'u1', at, id: 'q-replayed' },
    ]);
    for (const id of ['q-open', 'q-open', 'q-resent', 'q-replayed']) await quarantine(id, 'mission_posted', at);
    await warehouse.client.exec({
      query: 'INSERT INTO quarantine_replays FORMAT JSONEachRow',
      values: Readable.from([JSON.stringify({ message_id: 'q-replayed', replayed_at: at, plan_version: '2.0.0' })]),
    });
    // One event still quarantined (sent twice) among 7.
    expect((await measure({ kind: 'violation_rate', id: 'v', above: 0.05, windowMs: 3_600_000 }, deps())).value).toBeCloseTo(1 / 7, 6);
  });

  it('an event received only into quarantine has been received: not "never", and it is the newest arrival', async () => {
    await insertWorld(warehouse, [{ event: 'mission_posted', user: 'u1', at: NOW - 3_600_000 }]);
    await quarantine('q-signup', 'freelancer_signup_completed', NOW - 60_000);
    expect((await measure({ kind: 'event_silent', id: 's', event: 'freelancer_signup_completed', forMs: 3_600_000 }, deps())).value).toBe(60_000);
    expect((await measure({ kind: 'freshness', id: 'f', aboveMs: 3_600_000 }, deps())).value).toBe(60_000);
  });
});
