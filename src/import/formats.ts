/**
 * The archive formats `balise import` reads, and how one line of each becomes a Segment-spec
 * message for `POST /v1/import`. Pure: no IO, no clock.
 */
import { createHash } from 'node:crypto';
import { fromAmplitudeEvent } from './amplitude.ts';
import { fromSegmentMessage } from './segment.ts';
import { isPlainObject as isRecord } from '../util/objects.ts';

export const IMPORT_FORMATS = ['segment', 'rudderstack', 'amplitude'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** Stamped into every imported message's context, so the run's rows can be counted afterwards. */
export interface ImportStamp {
  run: string;
  format: ImportFormat;
}

/**
 * A stable messageId for a line that carries none: the same line always gets the same id, so a
 * batch re-sent after a crash (or a second import of the same archive) is deduplicated.
 */
export function lineMessageId(format: ImportFormat, line: string): string {
  return `imp-${format}-${createHash('sha256').update(line).digest('base64url').slice(0, 32)}`;
}

/**
 * Which format a parsed line looks like: Amplitude's export has `event_type`; RudderStack's
 * events carry `rudderId` (and `request_ip`, a `RudderLabs…` library); anything else with a
 * Segment `type` is Segment's.
 */
export function detectFormat(sample: unknown): ImportFormat | undefined {
  if (!isRecord(sample)) return undefined;
  if (typeof sample.event_type === 'string') return 'amplitude';
  const library = isRecord(sample.context) && isRecord(sample.context.library) ? sample.context.library.name : undefined;
  if ('rudderId' in sample || 'request_ip' in sample || (typeof library === 'string' && /rudder/i.test(library))) return 'rudderstack';
  if (typeof sample.type === 'string') return 'segment';
  return undefined;
}

/**
 * One archive line (already parsed) to the message Balise ingests. A value that is not an
 * object is passed on as is: the ingest quarantines it as malformed, like live traffic.
 */
export function toMessage(format: ImportFormat, parsed: unknown, line: string, stamp: ImportStamp): unknown {
  if (!isRecord(parsed)) return parsed;
  const message = format === 'amplitude' ? fromAmplitudeEvent(parsed) : fromSegmentMessage(parsed, format);
  if (typeof message.messageId !== 'string' || message.messageId === '') message.messageId = lineMessageId(format, line);
  // A context that is not an object is the event's own fault: leave it for the ingest to refuse.
  if (message.context === undefined || message.context === null) message.context = {};
  if (isRecord(message.context)) message.context = { ...message.context, import: { run: stamp.run, format: stamp.format } };
  return message;
}
