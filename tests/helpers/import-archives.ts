/**
 * Generated history archives for `balise import` tests and the bench, in the shapes the vendors
 * really write (these stand in for exports that cannot be fetched here):
 * - Segment: the AWS S3 destination's "gzipped, newline-separated JSON containing the full
 *   call", s3://{bucket}/segment-logs/{source-id}/{received-day}/{file}.gz; each line a Segment
 *   message with messageId, timestamp, originalTimestamp, sentAt, receivedAt, context.library
 *   analytics.js, integrations, version 2 (segmentio/segment-docs,
 *   src/connections/storage/catalog/amazon-s3/index.md and src/connections/spec/common.md).
 * - RudderStack: the S3 object-storage destination, rudder-logs/{source-id}/{date}/{file}.json.gz,
 *   gzipped JSON lines of processed events with rudderId, request_ip, channel and identify traits
 *   in context.traits as its JavaScript SDK sends them (rudderlabs/rudder-server, batch router;
 *   rudderlabs/rudder-sdk-js, identify).
 * - Amplitude: the Export API's zip of gzipped JSON files, {project}/{project}_{date}_{hour}#{n}.json.gz,
 *   one event per line with $insert_id, uuid, event_type, event_time "YYYY-MM-DD HH:MM:SS.ffffff",
 *   user_id, device_id, event_properties, user_properties (amplitude.com/docs/apis/analytics/export).
 *
 * Every archive holds `persons × 4` events (identify, sign-up, then a proposal or a page, then a
 * completed mission or a page), back-dated from `start`, plus some lines that are not JSON, some
 * plan-invalid sign-ups (quarantined) and some exact duplicate lines.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import yazl from 'yazl';

export type ArchiveFormat = 'segment' | 'rudderstack' | 'amplitude';

export interface ArchiveSpec {
  format: ArchiveFormat;
  dir: string;
  persons: number;
  /** First day of the history (UTC, YYYY-MM-DD); sign-ups spread over the following 40 days. */
  start: string;
  /** Short tag in every id, so that several archives can share one warehouse. */
  tag: string;
}

export interface Archive {
  /** The file or directory to pass to `balise import`. */
  input: string;
  lines: number;
  events: number;
  unparseable: number;
  duplicates: number;
  /** Plan-invalid sign-ups (community outside the enum). */
  invalid: number;
  expectedStored: number;
  /** freelancer_activation over the history: entered, received a proposal, completed a mission. */
  funnel: [number, number, number];
  /** Events whose timestamp falls on `start` itself. */
  onFirstDay: number;
}

const DAY = 86_400_000;
const INVALID_EVERY = 97;
const DUPLICATE_EVERY = 1000;
const GARBAGE_EVERY = 5000;

interface Call {
  type: 'identify' | 'track' | 'page';
  event?: string;
  userId: string;
  anonymousId: string;
  at: number;
  properties?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  id: string;
}

function callsOf(person: number, spec: ArchiveSpec): Call[] {
  const t0 = Date.parse(`${spec.start}T00:00:00Z`) + (person % 40) * DAY + (person % 24) * 3_600_000 + (person % 997) * 1000;
  const userId = `fr_${spec.tag}${person}`;
  const anonymousId = `anon-${spec.tag}-${person}`;
  const community = person % INVALID_EVERY === 0 ? 'marketing' : person % 3 === 0 ? 'data' : 'tech';
  const id = (n: number) => createHash('md5').update(`${spec.tag}:${person}:${n}`).digest('hex');
  const mission = `msn_${spec.tag}${person}`;
  const page = (n: number, at: number): Call => ({ type: 'page', event: 'mission_list', userId, anonymousId, at, properties: { category: 'bi', results_count: n }, id: id(n) });
  return [
    { type: 'identify', userId, anonymousId, at: t0 - 60_000, traits: { role: 'freelancer', community: community === 'marketing' ? 'tech' : community }, id: id(0) },
    { type: 'track', event: 'freelancer_signup_completed', userId, anonymousId, at: t0, properties: { freelancer_id: userId, community, signup_method: 'email' }, id: id(1) },
    person % 2 === 0
      ? { type: 'track', event: 'mission_proposal_received', userId, anonymousId, at: t0 + 2 * DAY, properties: { mission_id: mission, category: 'bi', match_score: 0.8 }, id: id(2) }
      : page(2, t0 + 2 * DAY),
    person % 4 === 0
      ? {
          type: 'track',
          event: 'mission_completed',
          userId,
          anonymousId,
          at: t0 + 10 * DAY,
          properties: { mission_id: mission, freelancer_id: userId, company_id: 'cmp_1', duration_days: 8 },
          id: id(3),
        }
      : page(3, t0 + 10 * DAY),
  ];
}

const iso = (ms: number) => new Date(ms).toISOString();

function segmentLine(call: Call): string {
  return JSON.stringify({
    anonymousId: call.anonymousId,
    channel: 'client',
    context: {
      ip: '203.0.113.7',
      library: { name: 'analytics.js', version: 'next-1.70.0' },
      locale: 'fr-FR',
      page: { path: '/missions', url: 'https://app.example.com/missions' },
      userAgent: 'Mozilla/5.0',
    },
    ...(call.type === 'track' ? { event: call.event } : call.type === 'page' ? { name: call.event } : {}),
    integrations: {},
    messageId: `ajs-next-${call.id}`,
    originalTimestamp: iso(call.at),
    ...(call.type === 'identify' ? { traits: call.traits } : { properties: call.properties }),
    receivedAt: iso(call.at + 1200),
    sentAt: iso(call.at + 1000),
    timestamp: iso(call.at),
    type: call.type,
    userId: call.userId,
    version: 2,
    writeKey: 'OLDSEGMENTWRITEKEY',
  });
}

function rudderLine(call: Call): string {
  const context = {
    ip: '203.0.113.7',
    library: { name: 'RudderLabs JavaScript SDK', version: '3.11.0' },
    locale: 'fr-FR',
    userAgent: 'Mozilla/5.0',
    ...(call.type === 'identify' ? { traits: call.traits } : {}),
  };
  return JSON.stringify({
    anonymousId: call.anonymousId,
    channel: 'web',
    context,
    ...(call.type === 'track' ? { event: call.event } : call.type === 'page' ? { name: call.event } : {}),
    integrations: { All: true },
    messageId: `${call.id.slice(0, 8)}-${call.id.slice(8, 12)}-${call.id.slice(12, 16)}-${call.id.slice(16, 20)}-${call.id.slice(20)}`,
    originalTimestamp: iso(call.at),
    ...(call.type === 'identify' ? {} : { properties: call.properties }),
    receivedAt: iso(call.at + 1200),
    request_ip: '203.0.113.7',
    rudderId: `rid-${call.anonymousId}`,
    sentAt: iso(call.at + 1000),
    timestamp: iso(call.at),
    type: call.type,
    userId: call.userId,
  });
}

const amplitudeTime = (ms: number) => `${iso(ms).slice(0, 10)} ${iso(ms).slice(11, 23)}000`;

function amplitudeLine(call: Call): string {
  // Amplitude has no page call: browser SDKs log page views as "[Amplitude] Page Viewed".
  const eventType = call.type === 'identify' ? '$identify' : call.type === 'page' ? '[Amplitude] Page Viewed' : call.event;
  return JSON.stringify({
    $insert_id: `ins-${call.id}`,
    $schema: 12,
    amplitude_id: 100000 + Number.parseInt(call.id.slice(0, 6), 16),
    app: 123456,
    city: 'Paris',
    client_event_time: amplitudeTime(call.at),
    client_upload_time: amplitudeTime(call.at + 1000),
    country: 'France',
    device_id: call.anonymousId,
    event_id: 7,
    event_properties: call.type === 'identify' ? {} : call.properties,
    event_time: amplitudeTime(call.at),
    event_type: eventType,
    ip_address: '203.0.113.7',
    language: 'French',
    library: 'amplitude-ts/2.11.0',
    os_name: 'Chrome',
    os_version: '120',
    platform: 'Web',
    server_received_time: amplitudeTime(call.at + 1200),
    server_upload_time: amplitudeTime(call.at + 1300),
    session_id: call.at - (call.at % 3_600_000),
    user_id: call.userId,
    user_properties: call.type === 'identify' ? call.traits : { role: 'freelancer' },
    uuid: `${call.id.slice(0, 8)}-aaaa-4bbb-8ccc-${call.id.slice(20)}`,
  });
}

const LINE: Record<ArchiveFormat, (call: Call) => string> = { segment: segmentLine, rudderstack: rudderLine, amplitude: amplitudeLine };

/** Splits lines into `parts` files (or zip entries) of consecutive lines. */
function split<T>(items: T[], parts: number): T[][] {
  const size = Math.ceil(items.length / parts);
  return Array.from({ length: parts }, (_, i) => items.slice(i * size, (i + 1) * size)).filter((p) => p.length > 0);
}

export async function generateArchive(spec: ArchiveSpec): Promise<Archive> {
  const lines: string[] = [];
  const duplicates: string[] = [];
  let invalid = 0;
  let unparseable = 0;
  const funnel: [number, number, number] = [0, 0, 0];
  let onFirstDay = 0;
  const firstDay = Date.parse(`${spec.start}T00:00:00Z`);
  for (let person = 0; person < spec.persons; person++) {
    const calls = callsOf(person, spec);
    const valid = person % INVALID_EVERY !== 0;
    if (!valid) invalid++;
    else {
      funnel[0]++;
      if (person % 2 === 0) funnel[1]++;
      if (person % 4 === 0) funnel[2]++;
    }
    for (const call of calls) {
      const line = LINE[spec.format](call);
      lines.push(line);
      if (call.at >= firstDay && call.at < firstDay + DAY && (valid || call.event !== 'freelancer_signup_completed')) onFirstDay++;
      if (lines.length % GARBAGE_EVERY === 0) {
        lines.push('{"type":"track","event":"truncated by a crashed exporter');
        unparseable++;
      }
    }
    // A valid sign-up exported twice (an exporter retry): the same line again, later in the archive.
    if (valid && person % DUPLICATE_EVERY === 1) duplicates.push(LINE[spec.format](calls[1]!));
  }
  lines.push(...duplicates);
  const events = spec.persons * 4 + duplicates.length;
  const archive = { lines: lines.length, events, unparseable, duplicates: duplicates.length, invalid, expectedStored: spec.persons * 4 - invalid, funnel, onFirstDay };

  if (spec.format === 'amplitude') {
    const zip = new yazl.ZipFile();
    split(lines, 6).forEach((part, i) => zip.addBuffer(gzipSync(`${part.join('\n')}\n`, { level: 1 }), `123456/123456_${spec.start}_${i}#0.json.gz`, { compress: false }));
    const input = path.join(spec.dir, 'amplitude-export.zip');
    zip.end();
    await new Promise<void>((resolve, reject) => zip.outputStream.pipe(fs.createWriteStream(input)).on('close', resolve).on('error', reject));
    return { input, ...archive };
  }
  const root = path.join(spec.dir, spec.format === 'segment' ? 'segment-logs' : 'rudder-logs');
  const day = path.join(root, 'src_1', spec.format === 'segment' ? String(firstDay) : spec.start);
  fs.mkdirSync(day, { recursive: true });
  split(lines, 5).forEach((part, i) => {
    const text = `${part.join('\n')}\n`;
    // One file left uncompressed: archives copied around are not always gzipped.
    if (i === 4) fs.writeFileSync(path.join(day, `part-${i}.json`), text);
    else fs.writeFileSync(path.join(day, spec.format === 'segment' ? `part-${i}.gz` : `${1_700_000_000 + i}.part-${i}.json.gz`), gzipSync(text, { level: 1 }));
  });
  return { input: root, ...archive };
}
