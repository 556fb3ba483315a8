import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { runQueueMeter } from '../../bench/proc.ts';

describe("the ingest bench's run-queue meter", () => {
  it("counts a process's time on a core per second, and has no reading for a process that is not there", () => {
    const meter = runQueueMeter([process.pid, 0]);
    const started = performance.now();
    // About 100 ms of work on this thread: what the meter must see as time on a core.
    while (performance.now() - started < 100) Math.sqrt(Math.random());
    const [self, missing] = meter();
    expect(missing).toBeUndefined();
    // Over ~100 ms of wall time nearly all spent on a core: well above zero, at most the cores' total.
    expect(self!.runMsPerS).toBeGreaterThan(300);
    expect(self!.runMsPerS).toBeLessThan(1000 * os.availableParallelism() + 100);
    expect(self!.waitMsPerS).toBeGreaterThanOrEqual(0);
  });
});
