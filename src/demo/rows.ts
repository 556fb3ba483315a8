/** Maps demo calls to what the ingest would make of them, for tests that skip the HTTP pipeline. */
import { toEventRow } from '../warehouse/rows.ts';
import type { EventRow, NormalizedEvent } from '../types.ts';
import type { DemoCall } from './generate.ts';

export function demoCallToEvent(call: DemoCall): NormalizedEvent {
  return {
    type: call.type,
    messageId: call.messageId,
    event: call.event,
    userId: call.userId ?? '',
    anonymousId: call.anonymousId ?? '',
    groupId: '',
    previousId: '',
    timestamp: call.timestamp,
    sentAt: null,
    receivedAt: call.timestamp,
    properties: call.properties ?? {},
    traits: call.traits ?? {},
    context: { library: { name: 'balise-demo', version: '0' } },
    declaredPlanVersion: undefined,
    source: 'demo',
  };
}

export function demoCallToRow(call: DemoCall): EventRow {
  return toEventRow(demoCallToEvent(call), { status: 'valid', planVersion: '', violations: [] });
}
