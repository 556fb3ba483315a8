import { describe, expect, it } from 'vitest';
import { sharedWork } from '../../src/util/shared-work.ts';

/** A computation the test settles by hand, counting how often it was started. */
function manual<T>() {
  const started: { resolve: (value: T) => void; reject: (error: Error) => void }[] = [];
  const work = () => new Promise<T>((resolve, reject) => started.push({ resolve, reject }));
  return { started, work };
}

describe('one computation per key at a time', () => {
  it('gives callers of a key under way its result, and starts another for a new key', async () => {
    const shared = sharedWork<number>();
    const { started, work } = manual<number>();
    const a = [shared('a', work), shared('a', work)];
    const b = shared('b', work);
    await Promise.resolve();
    expect(started).toHaveLength(2);
    started[0]!.resolve(1);
    started[1]!.resolve(2);
    expect(await Promise.all([...a, b])).toEqual([1, 1, 2]);
  });

  it('keeps nothing once settled: the next caller starts afresh, after a success or a failure', async () => {
    const shared = sharedWork<number>();
    const { started, work } = manual<number>();
    const failed = [shared('a', work), shared('a', work)].map((p) => p.catch((e: Error) => e.message));
    await Promise.resolve();
    started[0]!.reject(new Error('engine gone'));
    expect(await Promise.all(failed)).toEqual(['engine gone', 'engine gone']);
    const again = shared('a', work);
    await Promise.resolve();
    expect(started).toHaveLength(2);
    started[1]!.resolve(3);
    expect(await again).toBe(3);
    const third = shared('a', work);
    await Promise.resolve();
    expect(started).toHaveLength(3);
    started[2]!.resolve(4);
    expect(await third).toBe(4);
  });

  it('turns a computation that throws before it starts into a rejection shared like any other', async () => {
    const shared = sharedWork<number>();
    const boom = () => {
      throw new Error('bad definitions');
    };
    await expect(shared('a', boom)).rejects.toThrow('bad definitions');
  });
});
