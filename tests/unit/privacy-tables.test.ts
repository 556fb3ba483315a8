import { describe, expect, it } from 'vitest';
import { withoutPerson } from '../../src/privacy/queued.ts';
import { hashId } from '../../src/privacy/requests.ts';
import { mutationCondition, personCondition, selectCondition } from '../../src/privacy/tables.ts';

describe('where a person rows are', () => {
  it.each([
    ['events', ['message_id', 'user_id', 'anonymous_id', 'previous_id', 'properties'], ['user_id', 'anonymous_id', 'previous_id'], false],
    ['identity_links', ['alias_id', 'user_id', 'first_seen'], ['user_id', 'alias_id'], false],
    ['quarantine_replays', ['message_id', 'replayed_at'], ['message_id'], true],
  ] as const)('%s is searched by %j', (table, columns, keys, byMessageId) => {
    expect(personCondition(table, new Set(columns))).toMatchObject({ table, keys: [...keys], byMessageId });
  });

  it('searches quarantine inside its raw event JSON, numeric ids included', () => {
    const t = personCondition('quarantine', new Set(['message_id', 'raw']))!;
    expect(t.keys).toContain("JSONExtractString(raw, 'userId')");
    expect(t.keys).toContain("JSONExtractRaw(raw, 'anonymousId')");
  });

  it.each(['schema_migrations', 'privacy_requests', 'health_probe'])('leaves Balise bookkeeping (%s) alone', (table) => {
    expect(personCondition(table, new Set(['message_id', 'user_id']))).toBeUndefined();
  });

  it('reads with a parameter and mutates with hashes only, never the ids themselves', () => {
    const t = personCondition('events', new Set(['user_id', 'anonymous_id']))!;
    expect(selectCondition(t)).toBe('user_id IN {values:Array(String)} OR anonymous_id IN {values:Array(String)}');
    const sql = mutationCondition(t, [hashId('alice@example.com')]);
    expect(sql).toBe(`lower(hex(SHA256(user_id))) IN ('${hashId('alice@example.com')}') OR lower(hex(SHA256(anonymous_id))) IN ('${hashId('alice@example.com')}')`);
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

  it('says when nothing in it is theirs', () => {
    expect(withoutPerson({ events: [line('b', '1')], ids: ['1'], quarantine: [], receivedAt: 1 }, new Set(['a']))).toBeUndefined();
  });
});
