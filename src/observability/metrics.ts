import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every Prometheus metric Balise exports, in one registry per process (no global state on import). */
export interface Metrics {
  registry: Registry;
  eventsAccepted: Counter<'source'>;
  eventsRejected: Counter<'code'>;
  eventsQuarantined: Counter;
  planViolations: Counter<'event' | 'version' | 'rule'>;
  jobsQueued: Counter;
  requestsRefused: Counter<'code'>;
  eventsInserted: Counter<'table'>;
  duplicatesDropped: Counter;
  insertFailures: Counter;
  queueDepth: Gauge<'state'>;
  insertDuration: Histogram;
  insertRows: Histogram;
  endToEndLag: Histogram;
  httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  // prom-client's standard names (process_cpu_seconds_total, nodejs_eventloop_lag_seconds…), which
  // stock Node.js dashboards query; no prefix.
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    eventsAccepted: new Counter({ name: 'balise_events_accepted_total', help: 'Events accepted and queued for the events table', labelNames: ['source'], registers: r }),
    eventsRejected: new Counter({ name: 'balise_events_rejected_total', help: 'Events or requests refused as malformed, by error code', labelNames: ['code'], registers: r }),
    eventsQuarantined: new Counter({ name: 'balise_events_quarantined_total', help: 'Events queued for the quarantine table', registers: r }),
    planViolations: new Counter({ name: 'balise_plan_violations_total', help: 'Tracking-plan violations by event, plan version and rule', labelNames: ['event', 'version', 'rule'], registers: r }),
    jobsQueued: new Counter({ name: 'balise_jobs_queued_total', help: 'Jobs added to the queue (each holds one or more accepted requests)', registers: r }),
    requestsRefused: new Counter({ name: 'balise_requests_refused_total', help: 'Requests answered 429/503 because of overload or an unavailable queue', labelNames: ['code'], registers: r }),
    eventsInserted: new Counter({ name: 'balise_rows_inserted_total', help: 'Rows inserted into ClickHouse', labelNames: ['table'], registers: r }),
    duplicatesDropped: new Counter({
      name: 'balise_duplicates_dropped_total',
      help: "Events and quarantine rows dropped before insert by the worker's recent-messageId window (a copy past it is stored and folded by FINAL, decision 0011)",
      registers: r,
    }),
    insertFailures: new Counter({ name: 'balise_insert_failures_total', help: 'ClickHouse inserts that failed (their jobs are retried)', registers: r }),
    // Every API process samples the same queue: processes of one `up` report it once (max), not summed.
    queueDepth: new Gauge({ name: 'balise_queue_depth', help: 'Jobs in the ingest queue by state', labelNames: ['state'], registers: r, aggregator: 'max' }),
    insertDuration: new Histogram({
      name: 'balise_insert_duration_seconds',
      help: 'Duration of one ClickHouse batch insert',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    insertRows: new Histogram({ name: 'balise_insert_rows', help: 'Rows per ClickHouse insert', buckets: [10, 100, 1000, 5000, 10000, 25000, 50000, 100000], registers: r }),
    endToEndLag: new Histogram({
      name: 'balise_end_to_end_lag_seconds',
      help: 'From receipt by the API to insert in ClickHouse',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: r,
    }),
    // The conventional name and labels of Node.js HTTP servers; `route` is the express route pattern.
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern (never the raw URL) and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
  };
}
