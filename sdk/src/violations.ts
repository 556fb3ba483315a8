/**
 * Tells developers what the server thought of their events. The ingest answers each batch with
 * per-event verdicts; this transport wrapper reads them and, for every event the plan warned
 * about or quarantined, calls `onViolation` and (in development) logs it with its violations in
 * words. An opt-in entry (`@balise/sdk/violations`): the browser core stays within its size
 * budget, and apps that do not use it pay nothing. The Node SDK wires it in through its
 * `onViolation` and `development` options.
 */
import type { Transport, TransportResponse, WireEvent } from './types.ts';

/** One plan violation as the ingest reports it. */
export interface ServerViolation {
  /** JSON pointer into the event, e.g. "/properties/foo". */
  path: string;
  /** Stable rule code: required, type, enum, undeclared_property, unplanned_event, ... */
  rule: string;
  message: string;
}

export interface ViolationReport {
  /** The event as the SDK sent it. */
  event: WireEvent;
  /** warned: stored with its violations; quarantined: kept aside by the server (replayable). */
  status: 'warned' | 'quarantined';
  /** The quarantine code (plan_violation, invalid_timestamp, ...), on quarantined events. */
  code?: string;
  violations: ServerViolation[];
}

export interface ViolationOptions {
  /** Called for each warned or quarantined event; errors it throws are ignored. */
  onViolation?: (report: ViolationReport) => void;
  /** Log each report (true: console.warn). Turn on in development builds. */
  log?: boolean | ((message: string) => void);
}

export interface ViolationCounts {
  warned: number;
  quarantined: number;
}

/** A transport that also reports verdicts, with the counts it has seen. */
export type ViolationTransport = Transport & { counts: ViolationCounts };

interface Verdict {
  index: number;
  status: 'accepted' | 'quarantined';
  planStatus?: string;
  code?: string;
  violations?: ServerViolation[];
}

/** Plain fetch; the write key travels in the body, so this works in browsers and in Node. */
const plainFetch: Transport = (r) => fetch(r.url, { method: 'POST', body: r.body });

/** The response text: a transport may have read it already (`payload`) or leave it to us (fetch's text()). */
async function responseText(res: TransportResponse): Promise<string> {
  if (typeof res.payload === 'string') return res.payload;
  return typeof res.text === 'function' ? res.text() : '';
}

/** One line per report, then one per violation: what a developer needs to fix the call. */
export function describeViolation(r: ViolationReport): string {
  const e = r.event;
  const name = e.type === 'track' ? `track "${e.event ?? ''}"` : e.type === 'page' || e.type === 'screen' ? `${e.type} "${e.name ?? ''}"` : e.type;
  const what = r.status === 'quarantined' ? `quarantined by the server${r.code && r.code !== 'plan_violation' ? ` (${r.code})` : ''}` : 'stored with warnings';
  return [`[balise] ${name} ${what} (messageId ${e.messageId}):`, ...r.violations.map((v) => `  - ${v.message} [${v.rule} at ${v.path || '/'}]`)].join('\n');
}

/** The reports of one acknowledged batch (pure): `body` is the request body, `answer` the response JSON. */
export function violationReports(body: string, answer: unknown): ViolationReport[] {
  const results = (answer as { results?: Verdict[] } | null)?.results;
  if (!Array.isArray(results)) return [];
  let batch: WireEvent[] = [];
  const out: ViolationReport[] = [];
  for (const v of results) {
    const flagged = v.status === 'quarantined' || (v.violations?.length ?? 0) > 0;
    if (!flagged) continue;
    if (!batch.length) batch = (JSON.parse(body) as { batch: WireEvent[] }).batch;
    const event = batch[v.index];
    if (!event) continue;
    const report: ViolationReport = { event, status: v.status === 'quarantined' ? 'quarantined' : 'warned', violations: v.violations ?? [] };
    if (v.code) report.code = v.code;
    out.push(report);
  }
  return out;
}

/**
 * Wraps a transport (default: fetch) so that every 2xx answer's verdicts are reported. Reading
 * verdicts never delays or fails delivery: the core sees the same status as without it.
 */
export function withViolations(base: Transport | undefined, options: ViolationOptions): ViolationTransport {
  const send = base ?? plainFetch;
  const log = options.log === true ? (m: string) => console.warn(m) : options.log || undefined;
  const counts: ViolationCounts = { warned: 0, quarantined: 0 };
  const transport = (async (req) => {
    const res = await send(req);
    if (res.status < 200 || res.status >= 300) return res;
    try {
      const text = await responseText(res);
      for (const report of text ? violationReports(req.body, JSON.parse(text)) : []) {
        counts[report.status]++;
        if (log) log(describeViolation(report));
        try {
          options.onViolation?.(report);
        } catch {
          /* the host's handler must not break delivery */
        }
      }
    } catch {
      /* an unreadable answer is still a delivered batch */
    }
    return res;
  }) as ViolationTransport;
  transport.counts = counts;
  return transport;
}
