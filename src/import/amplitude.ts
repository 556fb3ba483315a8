/**
 * Amplitude's Export API (GET /api/2/export) answers a zip archive of gzipped JSON files, one
 * event object per line, several files per hour (amplitude.com/docs/apis/analytics/export,
 * "Response schema"): event_type, user_id, device_id, event_time, event_properties,
 * user_properties, $insert_id, uuid, library, os_name, ip_address, city, country, …
 * Each becomes a Segment-spec message: `$identify` an identify call, anything else a track call.
 */
import { parseIsoDateTime } from '../util/dates.ts';
import { isPlainObject as isRecord } from '../util/objects.ts';
import type { Message } from './message.ts';

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined);
const obj = (value: unknown): Record<string, unknown> | undefined => (isRecord(value) && Object.keys(value).length > 0 ? value : undefined);

/**
 * Amplitude writes UTC times as "2015-08-10 12:00:00.000000" (space, microseconds, no zone).
 * Returns a strict ISO-8601 string, or the value unchanged for the ingest to judge.
 */
export function amplitudeTime(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const ms = parseIsoDateTime(value.trim());
  return ms === undefined ? value : new Date(ms).toISOString();
}

/** Only the keys that have a value. */
function compact(fields: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined && value !== null && value !== '') out[key] = value;
  return Object.keys(out).length > 0 ? out : undefined;
}

export function fromAmplitudeEvent(raw: Record<string, unknown>): Message {
  const identify = raw.event_type === '$identify';
  const userProperties = obj(raw.user_properties);
  const context = compact({
    library: compact({ name: str(raw.library) }),
    ip: str(raw.ip_address),
    os: compact({ name: str(raw.os_name), version: str(raw.os_version) }),
    device: compact({ id: str(raw.device_id), model: str(raw.device_model), manufacturer: str(raw.device_manufacturer), brand: str(raw.device_brand), type: str(raw.device_type) }),
    app: compact({ version: str(raw.version_name) }),
    location: compact({ city: str(raw.city), country: str(raw.country), region: str(raw.region) }),
    locale: str(raw.language),
    // Segment keeps the user's traits beside a track call in context.traits.
    traits: identify ? undefined : userProperties,
    amplitude: compact({ amplitude_id: raw.amplitude_id, session_id: raw.session_id, event_id: raw.event_id, uuid: str(raw.uuid), platform: str(raw.platform) }),
  });
  return {
    type: identify ? 'identify' : 'track',
    ...(identify ? { traits: userProperties ?? {} } : { event: raw.event_type, properties: obj(raw.event_properties) ?? {} }),
    userId: str(raw.user_id),
    anonymousId: str(raw.device_id),
    // Amplitude's own dedupe key first (one per logical event, kept across client retries), then its row id.
    messageId: str(raw.$insert_id) ?? str(raw.insert_id) ?? str(raw.uuid),
    timestamp: amplitudeTime(raw.event_time ?? raw.client_event_time ?? raw.server_received_time),
    context: context ?? {},
  };
}
