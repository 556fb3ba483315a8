/**
 * What the live view shows of one event, and the filters a viewer can set. Pure: the ingest
 * builds these only while someone is watching (decision 0025).
 */
import type { JsonObject, PlanVerdict, Violation } from '../types.ts';

export type LiveVerdict = PlanVerdict['status'];

export interface LiveEvent {
  receivedAt: number;
  messageId: string;
  type: string;
  event: string;
  /** The write key's source name. */
  source: string;
  /** context.library.name (the SDK that sent it), '' when absent. */
  library: string;
  userId: string;
  anonymousId: string;
  verdict: LiveVerdict;
  /** The quarantine code (plan_violation, invalid_timestamp, ...), on quarantined events only. */
  code?: string;
  planVersion: string;
  /** Each with a message in words, e.g. `property "foo" is not declared for "order_placed" ...`. */
  violations: Violation[];
  properties: JsonObject;
}

export interface LiveFilter {
  /** Write-key source name or SDK library name. */
  source?: string;
  event?: string;
  /** userId or anonymousId. */
  person?: string;
  /** A verdict, or `accepted` (anything stored) or `flagged` (warned or quarantined). */
  verdict?: LiveVerdict | 'accepted' | 'flagged';
}

const VERDICTS = ['valid', 'warned', 'unplanned', 'quarantined', 'accepted', 'flagged'] as const;

export function isVerdictFilter(value: string): value is NonNullable<LiveFilter['verdict']> {
  return (VERDICTS as readonly string[]).includes(value);
}

export const VERDICT_FILTERS: readonly string[] = VERDICTS;

export function matches(filter: LiveFilter, e: LiveEvent): boolean {
  if (filter.source !== undefined && filter.source !== e.source && filter.source !== e.library) return false;
  if (filter.event !== undefined && filter.event !== e.event) return false;
  if (filter.person !== undefined && filter.person !== e.userId && filter.person !== e.anonymousId) return false;
  switch (filter.verdict) {
    case undefined:
      return true;
    case 'accepted':
      return e.verdict !== 'quarantined';
    case 'flagged':
      return e.verdict === 'warned' || e.verdict === 'quarantined';
    default:
      return filter.verdict === e.verdict;
  }
}

/** One line for a terminal: time, verdict, event, person, source, then each violation in words. */
export function describeLiveEvent(e: LiveEvent): string {
  const time = new Date(e.receivedAt).toISOString().slice(11, 23);
  const name = e.event || `(${e.type})`;
  const who = e.userId || e.anonymousId || '-';
  const from = e.library ? `${e.source}/${e.library}` : e.source;
  const head = `${time} ${e.verdict.padEnd(11)} ${name}  person=${who} source=${from} plan=${e.planVersion || '-'}${e.code && e.code !== 'plan_violation' ? ` code=${e.code}` : ''}`;
  return [head, ...e.violations.map((v) => `    ${v.rule}: ${v.message}`)].join('\n');
}
