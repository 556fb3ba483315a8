/**
 * Operations against a real running Balise (Redis, embedded ClickHouse, API and worker): the
 * Prometheus names stock dashboards expect, the HTTP histogram's bounded labels, the Grafana
 * dashboard's queries, and the OpenAPI file against the routes the app really registers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, REPO_ROOT, startStack, type Stack } from '../helpers/stack.ts';
import { canonicalPath, registeredRoutes } from '../helpers/routes.ts';
import { INGEST_ROUTES } from '../../src/ingest/app.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const admin = (route: string) => fetch(`${stack.baseUrl}${route}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });

/** The exposition as families (`# TYPE name type`) and the sample names that have a value. */
async function scrape(): Promise<{ text: string; families: Map<string, string>; samples: Set<string> }> {
  const res = await fetch(`${stack.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  const families = new Map<string, string>();
  const samples = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1]!, type[2]!);
    else if (line && !line.startsWith('#')) samples.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return { text, families, samples };
}

/** Sends a valid event, an event the plan quarantines, a malformed request and a duplicate; waits for the inserts. */
async function traffic(tag: string): Promise<void> {
  const ok = { type: 'track', event: 'mission_proposal_received', messageId: `${tag}-ok`, userId: 'fr_ada', properties: { mission_id: 'msn_1', category: 'data_engineering', match_score: 0.5 } };
  const bad = { type: 'track', event: 'mission_proposal_received', messageId: `${tag}-bad`, userId: 'fr_ada', properties: { mission_id: 42 } };
  expect((await post(stack, '/v1/batch', { batch: [ok, bad] })).status).toBe(200);
  expect((await post(stack, '/v1/batch', '{not json')).status).toBe(400);
  await stack.waitForRows(`events WHERE message_id = '${tag}-ok'`, 1);
  await stack.waitForRows(`quarantine WHERE message_id = '${tag}-bad'`, 1);
  expect((await post(stack, '/v1/track', ok)).status).toBe(200); // a client retry: dropped before insert
  const deadline = Date.now() + 15_000;
  while (!/^balise_duplicates_dropped_total [1-9]/m.test((await scrape()).text)) {
    if (Date.now() > deadline) throw new Error('the duplicate was never dropped');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Prometheus metrics', () => {
  it('exports prom-client default metrics under their standard names (no prefix)', async () => {
    const { families, samples } = await scrape();
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_version_info',
    ]) {
      expect(families.has(name), name).toBe(true);
      expect(samples.has(name), name).toBe(true);
    }
    expect([...families.keys()].filter((n) => n.startsWith('balise_process_'))).toEqual([]);
  });

  it('times HTTP requests by method, route pattern and status code, never by raw URL', async () => {
    const secret = `zz${Date.now()}`;
    expect((await post(stack, '/v1/batch', { batch: [] })).status).toBe(400);
    expect((await admin(`/api/funnels/${secret}`)).status).toBe(404);
    expect((await fetch(`${stack.baseUrl}/no/such/${secret}`)).status).toBe(404);
    expect((await fetch(`${stack.baseUrl}/v1/batch`, { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } })).status).toBe(204);
    const { text, families } = await scrape();
    expect(families.get('http_request_duration_seconds')).toBe('histogram');
    const count = (labels: string) => new RegExp(`^http_request_duration_seconds_count\\{${labels.replace(/[{}]/g, '\\$&')}\\} [1-9]`, 'm');
    expect(text).toMatch(count('method="POST",route="/v1/batch",status_code="400"'));
    expect(text).toMatch(count('method="GET",route="/api/funnels/:id",status_code="404"'));
    expect(text).toMatch(count('method="GET",route="unmatched",status_code="404"'));
    expect(text).toMatch(count('method="OPTIONS",route="preflight",status_code="204"'));
    // The raw path (an unbounded label value) never reaches the exposition.
    expect(text).not.toContain(secret);
  });

  it('every metric the Grafana dashboard queries exists in /metrics of a running Balise', async () => {
    await traffic(`grafana-${Date.now()}`);
    const dashboard = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'ops/grafana/balise.json'), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(10);
    const { families, samples } = await scrape();
    // A metric selector is a name followed by `{` or `[` (functions are followed by `(`).
    const named = new Set<string>();
    for (const { panel, expr } of exprs) {
      const names = [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{[]/g)].map((m) => m[1]!);
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      // Every metric-looking word in the query is one of the selectors read above.
      for (const word of expr.match(/\b(?:balise|process|nodejs|http)_[a-z0-9_]+/g) ?? []) expect(names, `${panel}: ${word}`).toContain(word);
      names.forEach((n) => named.add(n));
    }
    const familyOf = (name: string) => (families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, ''));
    // Labelled counters with nothing to count in this run are declared, not sampled.
    const declaredOnly = new Set(['balise_requests_refused_total']);
    for (const name of named) {
      const family = familyOf(name);
      expect(families.has(family), `${name}: no such metric in /metrics`).toBe(true);
      if (name !== family) expect(families.get(family), name).toBe('histogram');
      if (!declaredOnly.has(family)) expect(samples.has(name), `${name}: declared but never sampled`).toBe(true);
    }
  });
});

describe('OpenAPI', () => {
  const specFile = path.join(REPO_ROOT, 'src/openapi.json');
  type Operation = Record<string, unknown>;
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8')) as { openapi: string; paths: Record<string, Record<string, Operation>> };
  const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  const specRoutes = Object.entries(spec.paths).flatMap(([p, item]) =>
    Object.keys(item)
      .filter((m) => METHODS.includes(m))
      .map((m) => ({ key: `${m.toUpperCase()} ${canonicalPath(p)}`, op: item[m]! })),
  );
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(specFile);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(spec.openapi).toMatch(/^3\.1\./);
  });

  it('is served at GET /openapi.json', async () => {
    const res = await fetch(`${stack.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(spec);
  });

  it('describes exactly the routes the running app registers, both ways', () => {
    // The ingest POSTs are served before express (decision 0050): their list is the app's own.
    const code = [...registeredRoutes(stack.balise.app!), ...INGEST_ROUTES].map((r) => {
      const [method, p] = r.split(' ') as [string, string];
      return `${method} ${canonicalPath(p)}`;
    });
    // HEAD is answered by every GET route in express; it is not a route of its own.
    const inCode = new Set(code.filter((r) => !r.startsWith('HEAD ')));
    expect(inCode.size).toBeGreaterThan(20);
    const inSpec = new Set(specRoutes.map((r) => r.key));
    const undocumented = [...inCode].filter((r) => !inSpec.has(r));
    const missing = [...inSpec].filter((r) => !inCode.has(r));
    expect({ undocumented, missing }).toEqual({ undocumented: [], missing: [] });
    // Every alias names an operation that is itself in the spec.
    for (const { key, op } of specRoutes) {
      const alias = op['x-balise-alias-of'];
      if (alias !== undefined) expect(inSpec.has(`${key.split(' ')[0]} ${canonicalPath(String(alias))}`), key).toBe(true);
    }
  });
});
