/**
 * Group commit for the ingest queue (decision 0041). Redis spends about as much on one BullMQ
 * job's scripts (add, move to active, complete: ~100 µs each) as on tens of kilobytes of its
 * rows, so a hundred-event request paid as much for being a job as for its events. While
 * `jobsInFlight` jobs are on their way to Redis, the requests accepted meanwhile are gathered into
 * the next job, which leaves as soon as one of them is stored. A request alone (a quiet server)
 * goes at once, unchanged; under load, jobs hold several requests, and each request is still
 * acknowledged only once the job holding its rows is in Redis (or refused with it when Redis
 * fails). With one job in flight, a request accepted just after a job left waited for that whole
 * round trip before its own; a second lane takes that wait away for a group large enough to be
 * worth a job of its own (`extraLaneMinRows`, decision 0055). Smaller groups (one-event requests
 * from browser SDKs) wait for the first lane and leave as fewer, larger jobs.
 */
import type { IngestJobData } from './jobs.ts';

export interface CoalesceOptions {
  /** A job stops taking requests at this many rows (events and quarantine): its size in Redis stays bounded. */
  maxRows: number;
  /** Jobs on their way to Redis at once (default 1); requests wait, gathered, only when all are. */
  jobsInFlight?: number;
  /**
   * A job leaves while another is on its way only with at least this many rows (default 0: any
   * job); a smaller group waits for the lanes to empty, gathering the requests that follow it.
   */
  extraLaneMinRows?: number;
  /** Called once per job stored, with how many requests it holds. */
  onQueued?: (requests: number) => void;
}

interface Group {
  jobs: IngestJobData[];
  rows: number;
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
}

const rowsOf = (job: IngestJobData) => job.events.length + job.quarantine.length;

/** One job holding the requests' rows in order; it was received when its first request was. */
export function mergeJobs(jobs: readonly IngestJobData[]): IngestJobData {
  if (jobs.length === 1) return jobs[0]!;
  const merged: IngestJobData = { events: [], ids: [], quarantine: [], quarantineIds: [], receivedAt: Math.min(...jobs.map((job) => job.receivedAt)) };
  if (jobs[0]!.eventLayout !== undefined) merged.eventLayout = jobs[0]!.eventLayout;
  for (const job of jobs) {
    merged.events.push(...job.events);
    merged.ids.push(...job.ids);
    merged.quarantine.push(...job.quarantine);
    merged.quarantineIds!.push(...(job.quarantineIds ?? job.quarantine.map(() => '')));
  }
  return merged;
}

/** `add` stores one job in Redis; the function returned takes one request's job and resolves once its rows are stored. */
export function coalesceJobs(add: (job: IngestJobData) => Promise<void>, options: CoalesceOptions): (job: IngestJobData) => Promise<void> {
  const waiting: Group[] = [];
  const lanes = options.jobsInFlight ?? 1;
  const extraLaneMinRows = options.extraLaneMinRows ?? 0;
  let inFlight = 0;

  const sendNext = (): void => {
    const group = waiting[0];
    if (!group || inFlight >= lanes || (inFlight > 0 && group.rows < extraLaneMinRows)) return;
    waiting.shift();
    inFlight++;
    add(mergeJobs(group.jobs)).then(
      () => {
        inFlight--;
        options.onQueued?.(group.jobs.length);
        for (const waiter of group.waiters) waiter.resolve();
        sendNext();
      },
      (error: unknown) => {
        inFlight--;
        for (const waiter of group.waiters) waiter.reject(error);
        sendNext();
      },
    );
  };

  return (job) =>
    new Promise<void>((resolve, reject) => {
      const last = waiting.at(-1);
      // Jobs of one layout only (they all come from this process's code, so this always holds).
      const fits = last && last.rows + rowsOf(job) <= options.maxRows && last.jobs[0]!.eventLayout === job.eventLayout;
      const group = fits ? last : { jobs: [], rows: 0, waiters: [] };
      if (!fits) waiting.push(group);
      group.jobs.push(job);
      group.rows += rowsOf(job);
      group.waiters.push({ resolve, reject });
      sendNext();
    });
}
