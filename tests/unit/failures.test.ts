import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createFailureLog } from '../../src/observability/failures.ts';
import { createLogger } from '../../src/observability/logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

describe('failure log', () => {
  it('logs the first failure of a kind once, a reminder a minute later, and the recovery with the count', () => {
    const { lines, logger } = capture();
    let now = 1_000_000;
    const failures = createFailureLog(logger, () => now);
    for (let i = 0; i < 500; i++) failures.report('redis', new Error('ECONNREFUSED'), 'Redis is unreachable');
    failures.report('disk', new Error('ENOSPC'), 'disk full');
    expect(lines.map((l) => l.msg)).toEqual(['Redis is unreachable', 'disk full']);
    expect(failures.failingSince('redis')).toBe(1_000_000);

    now += 61_000;
    failures.report('redis', new Error('ECONNREFUSED'), 'Redis is unreachable');
    failures.report('redis', new Error('ECONNREFUSED'), 'Redis is unreachable');
    expect(lines.slice(2)).toMatchObject([{ msg: 'Redis is unreachable (still failing)', failures: 501, failingForSeconds: 61 }]);

    failures.recover('redis', 'Redis is reachable again');
    failures.recover('redis');
    expect(lines.slice(3)).toMatchObject([{ msg: 'Redis is reachable again', failures: 502 }]);
    expect(failures.failingSince('redis')).toBeUndefined();
    // A new outage is news again.
    failures.report('redis', new Error('ECONNREFUSED'), 'Redis is unreachable');
    expect(lines).toHaveLength(5);
  });
});
