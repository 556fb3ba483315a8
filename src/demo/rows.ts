/** Maps demo calls straight to warehouse rows, for tests that skip the HTTP pipeline. */
import type { EventRow } from '../types.ts';
import type { DemoCall } from './generate.ts';

export function demoCallToRow(call: DemoCall): EventRow {
  return {
    message_id: call.messageId,
    type: call.type,
    event: call.event,
    user_id: call.userId ?? '',
    anonymous_id: call.anonymousId ?? '',
    group_id: '',
    previous_id: '',
    timestamp: call.timestamp,
    sent_at: null,
    received_at: call.timestamp,
    properties: JSON.stringify(call.properties ?? {}),
    traits: JSON.stringify(call.traits ?? {}),
    context: '{}',
    source: 'demo',
    library_name: 'balise-demo',
    library_version: '0',
    plan_version: '',
    plan_status: 'valid',
    violations: '',
  };
}
