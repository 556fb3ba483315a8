import { describe, expect, it } from 'vitest';
import { createDeduper } from '../../src/queue/dedupe.ts';

describe('the worker recent-messageId window', () => {
  it('drops an id once its batch committed, and a repeat inside one batch', async () => {
    const d = createDeduper({ windowSeconds: 60, maxIds: 100 });
    expect(await d.claim('b1', ['a', 'b', 'a'])).toEqual(['new', 'new', 'duplicate']);
    await d.commit('b1');
    expect(await d.claim('b2', ['a', 'c'])).toEqual(['duplicate', 'new']);
  });

  it('makes an id held by a batch that never committed uncertain (ClickHouse decides)', async () => {
    const d = createDeduper({ windowSeconds: 60, maxIds: 100 });
    await d.claim('failed', ['x']);
    expect(await d.claim('retry', ['x'])).toEqual(['uncertain']);
    await d.commit('retry');
    expect(await d.claim('later', ['x'])).toEqual(['duplicate']);
  });

  it("covers with a commit only the ids its batch still holds: one claimed again since stays the later batch's", async () => {
    const d = createDeduper({ windowSeconds: 60, maxIds: 100 });
    await d.claim('first', ['x', 'y']);
    expect(await d.claim('second', ['x'])).toEqual(['uncertain']);
    await d.commit('first');
    // y is stored with the first batch; x now waits on the second, which has not committed.
    expect(await d.claim('third', ['x', 'y'])).toEqual(['uncertain', 'duplicate']);
  });

  it('keeps events and quarantine ids apart', async () => {
    const d = createDeduper({ windowSeconds: 60, maxIds: 100 });
    await d.claim('b1', ['m1'], 'quarantine');
    await d.commit('b1');
    expect(await d.claim('b2', ['m1'], 'events')).toEqual(['new']);
    expect(await d.claim('b2', ['m1'], 'quarantine')).toEqual(['duplicate']);
  });

  it('forgets ids older than the window', async () => {
    let now = 1_000_000;
    const d = createDeduper({ windowSeconds: 10, maxIds: 100 }, () => now);
    await d.claim('b1', ['old']);
    await d.commit('b1');
    now += 11_000;
    expect(await d.claim('b2', ['old'])).toEqual(['new']);
  });

  it('holds at most maxIds, forgetting the oldest first', async () => {
    const d = createDeduper({ windowSeconds: 3600, maxIds: 3 });
    await d.claim('b1', ['1', '2', '3', '4', '5']);
    await d.commit('b1');
    // Only the 3 newest are remembered: 1 and 2 are gone (a resend of them is stored and folded).
    expect(await d.claim('b2', ['1', '2', '3', '4', '5'])).toEqual(['new', 'new', 'duplicate', 'duplicate', 'duplicate']);
  });

  it('counts an id claimed again from its later claim: ids claimed between the two are forgotten first', async () => {
    let now = 1_000_000;
    const d = createDeduper({ windowSeconds: 10, maxIds: 2 }, () => now);
    await d.claim('failed', ['a', 'b']);
    now += 6_000;
    expect(await d.claim('retry', ['a'])).toEqual(['uncertain']);
    await d.commit('retry');
    // Over the bound by one: b goes, not a, whose first place in the window is no longer its own.
    await d.claim('next', ['c']);
    await d.commit('next');
    // Past a's first claim's window but within its second's: still a duplicate.
    now += 6_000;
    expect(await d.claim('later', ['a', 'b'])).toEqual(['duplicate', 'new']);
  });
});
