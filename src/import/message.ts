/** A Segment-spec message, ready to be sent in a batch: what each format's reader (segment.ts, amplitude.ts) gives formats.ts. */
export type Message = Record<string, unknown>;
