/**
 * Quarantine replay of events whose personal values the plan's privacy rules hashed or dropped
 * before they were kept: a replay reads only that stored form, so it judges the values left and
 * takes the ingest's verdict on the replaced ones (found 2026-12-05: the hash of an email failed
 * `format: email`, a dropped required property was "missing", and such events never left).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplayQuarantineResult } from '../../src/queue/replay-quarantine.ts';
import { post, startStack, tempDir, type Stack } from '../helpers/stack.ts';

const PLAN = (version: string) => `name: signups
version: ${version}
description: Fixture plan for quarantine replay with personal data.
defaults:
  mode: enforce
  unplanned: allow
`;

const SIGNUP = (sizes: string, referrerPii = '') => `name: company_signed_up
kind: track
description: A company signed up.
owner: team-growth
status: active
properties:
  company_size: { type: string, enum: [${sizes}], description: Size band. }
  contact_email: { type: string, format: email, description: Who to write to., pii: true, pii_action: hash }
  card_holder: { type: string, description: Name on the card., pii: true, pii_action: drop }
  card_last4: { type: string, pattern: '^[0-9]{4}$', description: Last digits of the card., pii: true, pii_action: drop }
  referrer_email: { type: string, description: Who referred them.${referrerPii} }
required: [company_size, card_holder]
`;

let piiStack: Stack;
let piiPlan: string;

beforeAll(async () => {
  piiPlan = tempDir('balise-replay-pii-plan-');
  fs.mkdirSync(path.join(piiPlan, 'events'));
  fs.writeFileSync(path.join(piiPlan, 'plan.yaml'), PLAN('1.0.0'));
  fs.writeFileSync(path.join(piiPlan, 'events/company_signed_up.yaml'), SIGNUP('large'));
  piiStack = await startStack({ planDir: piiPlan });
}, 120_000);

afterAll(async () => {
  await piiStack?.stop();
});

describe('replay of events whose personal values the plan hashed or dropped', () => {
  it('judges the values left and moves the event; keeps one whose replaced value failed the plan as sent, and says so', async () => {
    const signup = (messageId: string, contactEmail: string) => ({
      type: 'track',
      event: 'company_signed_up',
      userId: 'u1',
      messageId,
      properties: { company_size: 'smb', contact_email: contactEmail, card_holder: 'A. Person', referrer_email: 'ref@example.com' },
    });
    // A dropped value that failed the plan as sent (found 2026-12-05: gone, it let the event pass a replay).
    const badCard = { ...signup('pii-bad-card', 'e@f.com'), properties: { ...signup('', 'e@f.com').properties, card_last4: 'abcd' } };
    const res = await post(piiStack, '/v1/batch', { batch: [signup('pii-fixed-later', 'c@d.com'), signup('pii-bad-email', 'not an email'), badCard] });
    expect(res.body).toMatchObject({ accepted: 0, quarantined: 3 });
    await piiStack.waitForDrained();
    await piiStack.waitForRows('quarantine', 3);

    // The stored form is hashed and dropped: that is all a replay can read.
    const kept = await piiStack.query<{ raw: string }>("SELECT raw FROM quarantine FINAL WHERE message_id = 'pii-fixed-later'");
    const raw = JSON.parse(kept[0]!.raw) as { properties: Record<string, unknown>; piiRewritten: string[] };
    expect(raw.properties.contact_email).toMatch(/^[0-9a-f]{64}$/);
    expect(raw.properties).not.toHaveProperty('card_holder');
    expect(raw.piiRewritten.sort()).toEqual(['/properties/card_holder', '/properties/contact_email']);

    // The plan is fixed in 1.1.0: smb is a size band, and the referrer's email is now personal.
    fs.writeFileSync(path.join(piiPlan, 'plan.yaml'), PLAN('1.1.0'));
    fs.writeFileSync(path.join(piiPlan, 'events/company_signed_up.yaml'), SIGNUP('large, smb', ', pii: true, pii_action: hash'));
    const replay = await fetch(`${piiStack.baseUrl}/api/admin/replay/quarantine`, {
      method: 'POST',
      headers: { authorization: `Bearer ${piiStack.adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(replay.status).toBe(200);
    const result = (await replay.json()) as ReplayQuarantineResult;
    expect(result).toMatchObject({ examined: 3, moved: 1, stillInvalid: 2 });
    expect(result.stays.map((s) => s.messageId).sort()).toEqual(['pii-bad-card', 'pii-bad-email']);
    const why = (id: string) => result.stays.find((s) => s.messageId === id)!.why;
    expect(why('pii-bad-email')).toContain('/properties/contact_email failed the plan at ingest and was then hashed or dropped by its privacy rules: it cannot be checked again');
    // Only that: the current version accepts what is left of it (found 2026-12-05: "no reason recorded | …").
    expect(why('pii-bad-card')).toBe('/properties/card_last4 failed the plan at ingest and was then hashed or dropped by its privacy rules: it cannot be checked again');

    const moved = await piiStack.query<{ plan_status: string; properties: string }>("SELECT plan_status, properties FROM events FINAL WHERE message_id = 'pii-fixed-later'");
    expect(moved).toHaveLength(1);
    expect(moved[0]!.plan_status).toBe('valid');
    // Stored under today's rules: the referrer's email hashed; the contact's hashed once, as kept (a second hash would break joins).
    const stored = JSON.parse(moved[0]!.properties) as Record<string, unknown>;
    expect(raw.properties.referrer_email).toBe('ref@example.com');
    expect(stored).toEqual({ company_size: 'smb', contact_email: raw.properties.contact_email, referrer_email: expect.stringMatching(/^[0-9a-f]{64}$/) });
  }, 120_000);
});
