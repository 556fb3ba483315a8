/** Small helpers shared by the benches: percentiles, timing, the result line the runner reads. */
import { loadConfig } from '../src/config/index.ts';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  /** A baseline measured in the same run, and what the ratio means. */
  baseline?: { name: string; value: number; unit: string };
  ratio?: number;
  target?: string;
}

/** One machine-readable line per bench; `balise bench` collects them into one table. */
export function printResult(bench: string, figures: BenchFigure[]): void {
  console.log(`BENCH_RESULT ${JSON.stringify({ bench, figures })}`);
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * The test helper that starts `balise up` shortens batch waits and worker locks and turns
 * event-loop shedding off so tests run fast and steady; a bench measures what users get, so it
 * puts the shipped defaults back.
 */
export function shippedWorkerSettings(): Record<string, string> {
  const { worker, ingest } = loadConfig({});
  return {
    BALISE_BATCH_MAX_WAIT_MS: String(worker.batchMaxWaitMs),
    BALISE_WORKER_LOCK_MS: String(worker.lockMs),
    BALISE_MAX_EVENT_LOOP_DELAY_MS: String(ingest.maxEventLoopDelayMs),
    BALISE_MAX_REQUEST_WAIT_MS: String(ingest.maxRequestWaitMs),
  };
}
