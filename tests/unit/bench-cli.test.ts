import { describe, expect, it } from 'vitest';
import { BENCHES } from '../../src/cli/bench.ts';
import { BENCH_NAMES } from '../../bench/run.ts';

describe('balise bench --only', () => {
  it('offers every bench the runner has, and only those', () => {
    expect([...BENCHES]).toEqual([...BENCH_NAMES]);
  });
});
