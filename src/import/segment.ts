/**
 * Segment and RudderStack archives are already Segment-spec messages, one per line:
 * - Segment's S3 destination writes "gzipped, newline-separated JSON containing the full call"
 *   under s3://{bucket}/segment-logs/{source-id}/{received-day}/{file}.gz
 *   (segmentio/segment-docs, src/connections/storage/catalog/amazon-s3/index.md);
 * - RudderStack's object-storage destinations write gzipped JSON lines of the processed events,
 *   rudder-logs/{source-id}/{date}/{file}.json.gz (rudderlabs/rudder-server, batch router).
 * Fields that describe the vendor's own pipeline are dropped; the rest goes through the ingest.
 */
import { isPlainObject as isRecord } from '../util/objects.ts';
import type { Message } from './message.ts';

/** Vendor bookkeeping, meaningless to Balise (ours are set again at ingest). */
const DROPPED = new Set(['receivedAt', 'writeKey', 'projectId', 'version', 'integrations', 'channel', 'request_ip', 'rudderId', '_metadata', 'userProperties']);

export function fromSegmentMessage(raw: Record<string, unknown>, format: 'segment' | 'rudderstack'): Message {
  const message: Message = {};
  for (const [key, value] of Object.entries(raw)) if (!DROPPED.has(key)) message[key] = value;
  // RudderStack's browser SDK puts identify traits only in context.traits.
  if (format === 'rudderstack' && message.type === 'identify' && message.traits === undefined && isRecord(message.context) && isRecord(message.context.traits)) {
    message.traits = message.context.traits;
  }
  return message;
}
