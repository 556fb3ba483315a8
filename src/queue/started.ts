import { within } from '../util/deadlines.ts';

/** How long a queue or worker closed during start-up gets to finish connecting first. */
const STARTING_GRACE_MS = 2000;

/**
 * Waits, at most STARTING_GRACE_MS, until a BullMQ queue or worker has connected. Closed while a
 * connection still starts, BullMQ 5.81 drops its listeners, then re-emits the start's rejection
 * as an 'error' no one hears, and the process crashes (taskforcesh/bullmq#2437): a start-up that
 * fails at once (the port taken) closes them that early.
 */
export async function started(bull: { waitUntilReady(): Promise<unknown> }): Promise<void> {
  await within(bull.waitUntilReady(), STARTING_GRACE_MS);
}
