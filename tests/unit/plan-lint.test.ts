/** The plan's lint on in-memory files (lintSources is pure); one test reads the example plan from disk. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArtifact } from '../../src/plan/artifact.ts';
import { lintSources } from '../../src/plan/lint.ts';
import { lintPlanDir } from '../../src/plan/load.ts';
import type { LintMessage, LoadResult } from '../../src/plan/model.ts';
import type { PlanFile } from '../../src/plan/parse.ts';

const PLAN = `name: shop
version: 1.0.0
description: test plan
sources: [web]
defaults:
  mode: enforce
  unplanned: allow
`;

/** plan.yaml (PLAN unless given), traits.yaml, events/*.yaml and build/plan-*.json, as text. */
function lintInMemory(files: Record<string, string>): LoadResult {
  const all: Record<string, string> = { 'plan.yaml': PLAN, ...files };
  const at = (file: string): PlanFile | undefined => (all[file] === undefined ? undefined : { file, text: all[file] });
  const events = Object.keys(all)
    .filter((f) => f.startsWith('events/'))
    .sort()
    .map((file) => ({ file, text: all[file]! }));
  const published = Object.entries(all)
    .filter(([f]) => f.startsWith('build/'))
    .map(([f, text]) => parseArtifact(text, f));
  return lintSources({ planDir: 'in-memory', plan: at('plan.yaml'), traits: at('traits.yaml'), events }, published);
}

const good = `name: order_placed
kind: track
description: An order was placed.
owner: team-shop
status: active
properties:
  order_id:
    type: string
    description: Id.
required: [order_id]
`;

/** A published build/plan-<version>.json with no events. */
const published = (version: string) =>
  JSON.stringify({
    format: 'balise-plan@1',
    plan: { name: 'shop', version, description: 'old', sources: [], defaults: { mode: 'enforce', unplanned: 'allow' }, events: [], traits: { properties: {}, required: [] } },
  });

function lintFiles(files: Record<string, string>): LintMessage[] {
  return lintInMemory(files).messages;
}

describe('plan lint', () => {
  it('passes a clean plan and the committed example plan', async () => {
    expect(lintFiles({ 'events/order_placed.yaml': good })).toEqual([]);
    const example = await lintPlanDir(path.resolve(import.meta.dirname, '../../tracking-plan'));
    expect(example.messages.filter((m) => m.severity === 'error')).toEqual([]);
    expect(example.plan.events.length).toBeGreaterThanOrEqual(15);
  });

  it.each([
    ['event name not snake_case', good.replace('name: order_placed', 'name: OrderPlaced'), 'snake_case', 1],
    ['property name not snake_case', good.replace('  order_id:\n    type', '  orderId:\n    type').replace('[order_id]', '[orderId]'), 'snake_case', 7],
    ['description missing', good.replace('description: An order was placed.\n', ''), 'file_schema', 1],
    ['owner empty', good.replace('owner: team-shop', 'owner: ""'), 'file_schema', 4],
    ['unknown schema keyword', good.replace('    description: Id.', '    description: Id.\n    maximun: 3'), 'file_schema', 10],
    ['invalid type', good.replace('type: string', 'type: strnig'), 'file_schema', 8],
    ['invalid regex', good.replace('    description: Id.', '    description: Id.\n    pattern: "(["'), 'file_schema', 10],
    ['required unknown property', good.replace('[order_id]', '[order_id, total]'), 'required_unknown', 10],
    ['enum values of the wrong type', good.replace('    description: Id.', '    description: Id.\n    enum: [1, 2]'), 'enum_type_mismatch', 7],
    ['inverted range', good.replace('type: string\n    description: Id.', 'type: number\n    description: Id.\n    minimum: 5\n    maximum: 1'), 'range_inverted', 7],
    ['property without description', good.replace('    description: Id.\n', ''), 'property_description_missing', 7],
    ['YAML syntax error', good.replace('status: active', 'status: [active'), 'yaml_syntax', 6],
    ['file named after another event', good, 'file_name_mismatch', 1, 'events/order.yaml'],
    [
      'a nested required property not declared',
      good.replace('    description: Id.\n', '    description: Id.\n  address:\n    type: object\n    description: A.\n    properties: { city: { type: string } }\n    required: [city, stret]\n'),
      'required_unknown',
      10,
    ],
    [
      'a pii mark inside an object',
      good.replace('    description: Id.\n', '    description: Id.\n  address:\n    type: object\n    description: A.\n    properties: { street: { type: string, pii: true, pii_action: drop } }\n'),
      'pii_nested',
      10,
    ],
    [
      'a pii mark on array items',
      good.replace('    description: Id.\n', '    description: Id.\n  emails:\n    type: array\n    description: E.\n    items: { type: string, pii: true }\n'),
      'pii_nested',
      10,
    ],
  ])('%s', (_label, text, rule, line, file = 'events/order_placed.yaml') => {
    const messages = lintFiles({ [file]: text });
    const hit = messages.find((m) => m.rule === rule);
    expect(hit, JSON.stringify(messages)).toMatchObject({ file, line });
  });

  it('reports duplicates with the location of the first definition', () => {
    const messages = lintFiles({ 'events/order_placed.yaml': good, 'events/order_placed_again.yaml': good });
    expect(messages).toContainEqual(
      expect.objectContaining({
        rule: 'duplicate_event',
        file: 'events/order_placed_again.yaml',
        line: 1,
        severity: 'error',
        message: 'track "order_placed" is already defined in events/order_placed.yaml:1',
      }),
    );
  });

  it('warns when a published version is edited without a bump', () => {
    const messages = lintFiles({
      'events/order_placed.yaml': good,
      'build/plan-1.0.0.json': JSON.stringify({
        format: 'balise-plan@1',
        plan: { name: 'shop', version: '1.0.0', description: 'old', sources: [], defaults: { mode: 'enforce', unplanned: 'allow' }, events: [], traits: { properties: {}, required: [] } },
      }),
    });
    expect(messages).toContainEqual(expect.objectContaining({ rule: 'version_not_bumped', file: 'plan.yaml', line: 2 }));
  });

  it('says once that a version which is not semver is wrong, without comparing it to every published one', () => {
    const messages = lintFiles({
      'plan.yaml': PLAN.replace('version: 1.0.0', 'version: 5.5'),
      'events/order_placed.yaml': good,
      'build/plan-1.0.0.json': published('1.0.0'),
      'build/plan-2.0.0.json': published('2.0.0'),
    });
    const aboutVersion = messages.filter((m) => m.file === 'plan.yaml' && m.severity === 'error');
    expect(aboutVersion).toEqual([expect.objectContaining({ line: 2, message: expect.stringContaining('version') })]);
    expect(messages.filter((m) => m.rule === 'version_behind')).toEqual([]);
  });

  it('says a version behind the published ones once, naming the newest', () => {
    const messages = lintFiles({
      'events/order_placed.yaml': good,
      'build/plan-2.0.0.json': published('2.0.0'),
      'build/plan-3.1.0.json': published('3.1.0'),
      'build/plan-3.0.0.json': published('3.0.0'),
    });
    expect(messages.filter((m) => m.rule === 'version_behind').map((m) => m.message)).toEqual(['version 1.0.0 is lower than the published 3.1.0']);
  });

  it('says a file with two YAML documents in words of its own, at the separator', () => {
    const messages = lintFiles({ 'events/order_placed.yaml': `${good}---\nname: other\n` });
    expect(messages).toContainEqual(expect.objectContaining({ rule: 'yaml_syntax', line: 11, message: expect.stringContaining('a plan file holds one YAML document') }));
    expect(JSON.stringify(messages)).not.toContain('parseAllDocuments');
  });

  it('says a type that is no JSON Schema type once, with the types to choose from', () => {
    const messages = lintFiles({ 'events/order_placed.yaml': good.replace('type: string', 'type: strin') });
    expect(messages.filter((m) => m.severity === 'error').map((m) => `${m.line} ${m.rule} ${m.message}`)).toEqual([
      '8 file_schema /properties/order_id/type: not a type; use one of string, number, integer, boolean, array, object, null, or a list of them',
    ]);
  });

  it('lints traits.yaml too', () => {
    const messages = lintFiles({ 'traits.yaml': 'properties:\n  email:\n    type: string\n    description: e\nrequired: [email, role]\n' });
    expect(messages).toContainEqual(expect.objectContaining({ rule: 'required_unknown', file: 'traits.yaml', line: 5 }));
  });
});

describe('plan lint: undeclared properties and unplanned events policy', () => {
  it('loads the policies from plan.yaml and the event file', () => {
    const { plan, messages } = lintInMemory({
      'plan.yaml': PLAN.replace('  unplanned: allow', '  unplanned: warn\n  undeclared: strip'),
      'events/order_placed.yaml': `${good}undeclared: quarantine\n`,
    });
    expect(messages).toEqual([]);
    expect(plan.defaults).toEqual({ mode: 'enforce', unplanned: 'warn', undeclared: 'strip' });
    expect(plan.events[0]!.undeclared).toBe('quarantine');
  });

  it('a plan that does not set it reads as before (no undeclared key, allow)', () => {
    const { plan } = lintInMemory({ 'events/order_placed.yaml': good });
    expect(plan.defaults).toEqual({ mode: 'enforce', unplanned: 'allow' });
  });

  it.each([
    ['an unknown plan policy', { 'plan.yaml': PLAN.replace('  unplanned: allow', '  unplanned: allow\n  undeclared: drop'), 'events/order_placed.yaml': good }, 'file_schema', 'error'],
    ['strip for unplanned events (it would drop them)', { 'plan.yaml': PLAN.replace('  unplanned: allow', '  unplanned: strip'), 'events/order_placed.yaml': good }, 'file_schema', 'error'],
    ['an unknown event policy', { 'events/order_placed.yaml': `${good}undeclared: maybe\n` }, 'file_schema', 'error'],
    [
      'a strict policy on an event that declares no properties',
      { 'events/order_placed.yaml': `${good.replace(/properties:[\s\S]*$/, '')}undeclared: quarantine\n` },
      'undeclared_policy_without_properties',
      'warning',
    ],
  ] as const)('%s', (_label, files, rule, severity) => {
    const messages = lintFiles(files);
    expect(messages.map((m) => [m.rule, m.severity])).toContainEqual([rule, severity]);
  });
});
