import { describe, expect, it } from 'vitest';
import { withoutPerson } from '../../src/privacy/queued.ts';
import { hashId } from '../../src/privacy/requests.ts';
import { mutationCondition, OWNER, personCondition, RAW_OWNER, selectCondition } from '../../src/privacy/tables.ts';

describe('where a person rows are', () => {
  it.each([
    ['events', ['message_id', 'user_id', 'anonymous_id', 'previous_id', 'properties'], [OWNER], false],
    ['identity_links', ['alias_id', 'user_id', 'first_seen'], ['user_id'], false],
    ['quarantine', ['message_id', 'raw'], [RAW_OWNER], false],
    ['a derived table', ['previous_id', 'alias_id'], ['previous_id', 'alias_id'], false],
    ['quarantine_replays', ['message_id', 'replayed_at'], ['message_id'], true],
  ] as const)('%s is searched by %j', (table, columns, keys, byMessageId) => {
    expect(personCondition(table, new Set(columns))).toMatchObject({ table, keys: [...keys], byMessageId });
  });

  it("reads a row's owner as funnels do, and a raw event's in either spelling, numeric ids included", () => {
    expect(OWNER).toBe("if(user_id != '', user_id, anonymous_id)");
    for (const key of ['userId', 'user_id', 'anonymousId', 'anonymous_id']) {
      expect(RAW_OWNER).toContain(`JSONExtractString(raw, '${key}')`);
      expect(RAW_OWNER).toContain(`JSONExtractRaw(raw, '${key}')`);
    }
  });

  it.each(['schema_migrations', 'privacy_requests', 'health_probe'])('leaves Balise bookkeeping (%s) alone', (table) => {
    expect(personCondition(table, new Set(['message_id', 'user_id']))).toBeUndefined();
  });

  it('reads with a parameter and mutates with hashes only, never the ids themselves', () => {
    const t = personCondition('events', new Set(['user_id', 'anonymous_id']))!;
    expect(selectCondition(t)).toBe(`${OWNER} IN {values:Array(String)}`);
    const sql = mutationCondition(t, [hashId('alice@example.com')]);
    expect(sql).toBe(`lower(hex(SHA256(${OWNER}))) IN ('${hashId('alice@example.com')}')`);
    expect(sql).not.toContain('alice');
    expect(() => mutationCondition(t, ["x') OR 1=1 --"])).toThrow();
  });
});

describe('a queued job without the person', () => {
  const line = (user: string, id: string) => JSON.stringify({ message_id: id, user_id: user, anonymous_id: '' });
  const qline = (anon: string, id: string) => JSON.stringify({ message_id: id, raw: JSON.stringify({ anonymousId: anon }) });

  it('keeps the others rows, ids aligned', () => {
    const data = { events: [line('a', '1'), line('b', '2'), line('a', '3')], ids: ['1', '2', '3'], quarantine: [qline('a', '4'), qline('c', '5')], quarantineIds: ['4', '5'], receivedAt: 1 };
    const edited = withoutPerson(data, new Set(['a']))!;
    expect(edited.removed).toBe(3);
    expect(edited.data.ids).toEqual(['2']);
    expect(edited.data.quarantineIds).toEqual(['5']);
    expect(edited.data.events).toEqual([line('b', '2')]);
  });

  it("keeps another user's rows that name one of the person's ids (a shared device), and takes the person's anonymous ones", () => {
    const row = (user: string, anon: string, id: string) => JSON.stringify({ message_id: id, user_id: user, anonymous_id: anon });
    const raw = (body: Record<string, unknown>, id: string) => JSON.stringify({ message_id: id, raw: JSON.stringify(body) });
    const data = {
      events: [row('alice', 'device1', '1'), row('bob', 'device1', '2'), row('', 'device1', '3')],
      ids: ['1', '2', '3'],
      quarantine: [raw({ userId: 'bob', anonymousId: 'device1' }, '4'), raw({ user_id: 42, anonymous_id: 'device1' }, '5'), raw({ anonymousId: 'device1' }, '6')],
      quarantineIds: ['4', '5', '6'],
      receivedAt: 1,
    };
    const edited = withoutPerson(data, new Set(['alice', 'device1']))!;
    expect([edited.data.ids, edited.data.quarantineIds]).toEqual([['2'], ['4', '5']]);
    expect(withoutPerson(data, new Set(['42']))!.data.quarantineIds).toEqual(['4', '6']);
  });

  it('says when nothing in it is theirs', () => {
    expect(withoutPerson({ events: [line('b', '1')], ids: ['1'], quarantine: [], receivedAt: 1 }, new Set(['a']))).toBeUndefined();
  });
});
