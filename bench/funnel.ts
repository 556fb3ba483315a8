/**
 * Funnel benchmark: 10 million events generated inside chDB (INSERT ... SELECT from numbers()),
 * then the three-step freelancer_activation funnel (with identity stitching and its default
 * breakdown) against a plain count() over the same rows. Prints absolute times and the ratio;
 * target: funnel ≤ 1 s.
 *
 *   npx tsx bench/funnel.ts [--events 10000000] [--persons 500000] [--runs 3]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadKpiDefinitions } from '../src/analytics/definitions.ts';
import { runFunnel } from '../src/analytics/run.ts';
import { openWarehouse } from '../src/warehouse/client.ts';
import { migrate } from '../src/warehouse/migrations.ts';
import { printResult, round } from './lib.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '10000000' }, persons: { type: 'string', default: '500000' }, runs: { type: 'string', default: '3' } } });
const EVENTS = Number(values.events);
const PERSONS = Number(values.persons);
const RUNS = Number(values.runs);

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-bench-funnel-'));
const warehouse = await openWarehouse({ clickhouse: { url: undefined, user: 'default', password: '', database: 'bench', cluster: undefined }, dataDir });

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

async function best<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  let result = await time(fn);
  for (let i = 1; i < RUNS; i++) {
    const next = await time(fn);
    if (next.ms < result.ms) result = next;
  }
  return result;
}

try {
  await migrate(warehouse);
  // One year of events for PERSONS people. Per row: a person, an event drawn with fixed
  // weights (sign-ups 4%, proposals received 12%, completions 2%, the rest other planned events),
  // and an identity shape: 10% anonymous before login, 10% identified with their anonymous id
  // (feeding identity_links through the materialized view), the rest server-side with user_id.
  const insert = await time(() =>
    warehouse.client.command({
      query: `
INSERT INTO events (message_id, type, event, user_id, anonymous_id, group_id, previous_id, timestamp, sent_at, received_at, properties, traits, context, source, library_name, library_version, plan_version, plan_status, violations)
SELECT
  concat('m', toString(number)) AS message_id,
  'track',
  multiIf(r < 4, 'freelancer_signup_completed', r < 16, 'mission_proposal_received', r < 18, 'mission_completed', r < 40, 'mission_list', r < 60, 'freelancer_availability_updated', r < 80, 'mission_proposal_sent', 'mission_proposal_declined') AS event,
  if(shape = 0, '', concat('fr_', toString(person))) AS user_id,
  if(shape <= 1, concat('anon-', toString(person)), '') AS anonymous_id,
  '', '',
  toDateTime64('2025-01-01 00:00:00', 3, 'UTC') + toIntervalMillisecond(cityHash64(number, 'ts') % (365 * 86400000)) AS timestamp,
  NULL,
  toDateTime64('2025-01-01 00:00:00', 3, 'UTC') + toIntervalMillisecond(cityHash64(number, 'ts') % (365 * 86400000)),
  if(r < 4, concat('{"freelancer_id":"fr_', toString(person), '","community":"', if(person % 3 = 0, 'data', 'tech'), '"}'), concat('{"mission_id":"msn_', toString(number % 100000), '"}')),
  '{}', '{}', 'bench', 'bench', '0', '2.0.0', 'valid', ''
FROM (SELECT number, cityHash64(number, 'p') % ${PERSONS} AS person, cityHash64(number, 'e') % 100 AS r, cityHash64(number, 's') % 10 AS shape FROM numbers(${EVENTS}))
SETTINGS max_insert_threads = 2`,
    }),
  );
  await warehouse.client.command({ query: 'OPTIMIZE TABLE identity_links FINAL' });
  const definitions = await loadKpiDefinitions(path.resolve(import.meta.dirname, '../tracking-plan'));
  const countRows = async () => {
    const r = await warehouse.client.query({
      query: `SELECT count() AS c FROM events WHERE event IN ('freelancer_signup_completed', 'mission_proposal_received', 'mission_completed')`,
      format: 'JSONEachRow',
    });
    return Number((await r.json<{ c: string }>())[0]?.c);
  };
  const countAll = async () => {
    const r = await warehouse.client.query({ query: `SELECT count() AS c FROM events WHERE timestamp >= '2000-01-01'`, format: 'JSONEachRow' });
    return Number((await r.json<{ c: string }>())[0]?.c);
  };
  const total = await best(countAll);
  const stepRows = await best(countRows);
  const funnel = await best(() => runFunnel(warehouse, definitions, 'freelancer_activation', { now: Date.parse('2026-01-01T00:00:00Z') }));
  const noBreakdown = await best(() =>
    runFunnel(warehouse, { ...definitions, funnels: definitions.funnels.map((f) => ({ ...f, breakdown: undefined })) }, 'freelancer_activation', { now: Date.parse('2026-01-01T00:00:00Z') }),
  );
  const f = funnel.value;
  console.log(`events: ${total.value.toLocaleString('en-US')} (generated in ${(insert.ms / 1000).toFixed(1)} s), rows of the 3 step events: ${stepRows.value.toLocaleString('en-US')}`);
  console.log(`funnel freelancer_activation: ${f.steps.map((s) => s.count).join(' → ')} persons`);
  console.log(`count() over all rows (scan)          ${total.ms.toFixed(0)} ms`);
  console.log(`count() over the funnel's rows        ${stepRows.ms.toFixed(0)} ms`);
  console.log(
    `funnel, identity + breakdown          ${funnel.ms.toFixed(0)} ms   ratio to count(funnel rows) ${(funnel.ms / stepRows.ms).toFixed(1)}x, to count(all) ${(funnel.ms / total.ms).toFixed(1)}x   target ≤ 1000 ms: ${funnel.ms <= 1000 ? 'OK' : 'MISSED'}`,
  );
  console.log(`funnel, identity, no breakdown        ${noBreakdown.ms.toFixed(0)} ms   ratio ${(noBreakdown.ms / stepRows.ms).toFixed(1)}x`);
  console.log(`(best of ${RUNS} runs each, embedded chDB, ${os.cpus().length} cores)`);
  // The line `balise bench` collects into its table.
  printResult('funnel', [
    {
      name: `funnel (identity + breakdown) over ${total.value.toLocaleString('en-US')} events`,
      value: Math.round(funnel.ms),
      unit: 'ms',
      baseline: { name: "count() over the funnel's rows", value: Math.round(stepRows.ms), unit: 'ms' },
      ratio: round(funnel.ms / stepRows.ms, 2),
      target: '≤ 1,000 ms',
    },
    {
      name: 'funnel (identity + breakdown) vs full scan',
      value: Math.round(funnel.ms),
      unit: 'ms',
      baseline: { name: 'count() over all rows', value: Math.round(total.ms), unit: 'ms' },
      ratio: round(funnel.ms / total.ms, 2),
    },
    {
      name: 'funnel (identity, no breakdown)',
      value: Math.round(noBreakdown.ms),
      unit: 'ms',
      baseline: { name: "count() over the funnel's rows", value: Math.round(stepRows.ms), unit: 'ms' },
      ratio: round(noBreakdown.ms / stepRows.ms, 2),
    },
  ]);
} finally {
  await warehouse.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
