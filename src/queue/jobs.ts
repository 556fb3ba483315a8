/** One ingest job as the API builds it: one accepted request (or several, coalesced), its rows already in final form. */
export interface IngestJobData {
  /**
   * One line for `events` per accepted event: a JSONCompactEachRow array in the columns of
   * `eventLayout` (src/warehouse/rows.ts); without a layout, a JSONEachRow object.
   */
  events: string[];
  /** The layout of `events` lines; absent in jobs queued before layouts existed (objects). */
  eventLayout?: number;
  /** message_id of each line in `events`, same order, for dedupe without re-parsing. */
  ids: string[];
  /** JSONEachRow lines for `quarantine`. */
  quarantine: string[];
  /**
   * message_id of each line in `quarantine`, same order ('' when the client sent none: never
   * deduplicated). Absent in jobs queued before it existed: the worker reads the lines then.
   */
  quarantineIds?: string[];
  /** When the API received the request (epoch ms), for end-to-end lag. */
  receivedAt: number;
}

/**
 * What the queue holds for a job (decision 0045): everything but the event lines, which are
 * stored beside it as one payload of bytes under the key `rows` (job-rows.ts), so neither
 * BullMQ's JSON nor its scripts copy them. A small job carries its lines inline as `events`
 * (0054, producer.ts), as every job did before 0045.
 */
export type QueuedJobData = Omit<IngestJobData, 'events'> & { events?: string[]; rows?: string };

export const INGEST_QUEUE = 'ingest';
/** A hash-tagged prefix keeps all of the queue's keys in one slot, as Redis Cluster requires. */
export const QUEUE_PREFIX = '{balise}';

/**
 * Where the ingest queue lives in Redis. The defaults are Balise's own; another set lets two
 * queues share one Redis (a test each, or two deployments).
 */
export interface QueueKeys {
  /** BullMQ queue name. */
  name: string;
  /** BullMQ key prefix; keep a `{hash tag}` so the queue stays in one Redis Cluster slot. */
  prefix: string;
}

export const DEFAULT_QUEUE_KEYS: Readonly<QueueKeys> = { name: INGEST_QUEUE, prefix: QUEUE_PREFIX };
