/**
 * Packs messages into request bodies for `POST /v1/import`, within the ingest's limits (bytes
 * per request, events per batch). Pure.
 */
export interface BatchLimits {
  maxBytes: number;
  maxEvents: number;
}

const ENVELOPE = Buffer.byteLength('{"batch":[]}');

/** The request body of a batch of already-serialised messages. */
export const batchBody = (messages: readonly string[]): string => `{"batch":[${messages.join(',')}]}`;

/** Whether one serialised message can be sent at all (alone in a request). */
export const fitsAlone = (json: string, limits: BatchLimits): boolean => ENVELOPE + Buffer.byteLength(json) <= limits.maxBytes;

export interface BatchBuilder {
  /** Whether `json` still fits in the batch being built. */
  fits(json: string): boolean;
  add(json: string): void;
  /** The messages gathered so far; the builder starts again empty. */
  take(): string[];
  readonly count: number;
}

export function createBatchBuilder(limits: BatchLimits): BatchBuilder {
  let messages: string[] = [];
  let bytes = ENVELOPE;
  return {
    fits(json) {
      // +1 for the comma between messages.
      return messages.length < limits.maxEvents && bytes + Buffer.byteLength(json) + 1 <= limits.maxBytes;
    },
    add(json) {
      messages.push(json);
      bytes += Buffer.byteLength(json) + 1;
    },
    take() {
      const taken = messages;
      messages = [];
      bytes = ENVELOPE;
      return taken;
    },
    get count() {
      return messages.length;
    },
  };
}
