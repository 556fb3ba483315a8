/**
 * The typing contract with `balise plan codegen`: with the generated BalisePlan, a wrong event
 * name or property must not compile; without it, anything goes. Checked with the real compiler.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const sdkNode = resolve(import.meta.dirname, '../src/node.ts');
const sdkBrowser = resolve(import.meta.dirname, '../src/browser.ts');
const dir = mkdtempSync(join(tmpdir(), 'balise-sdk-types-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Shaped like the output of `balise plan codegen`.
const plan = `
export const PLAN_VERSION = '1.2.0';
export interface BalisePlan {
  events: {
    mission_created: { mission_id: string; budget: number; remote?: boolean };
    proposal_sent: { mission_id: string; daily_rate: number; currency: 'EUR' | 'USD' };
    signed_up: { referrer?: string };
  };
  traits: { email: string; role: 'client' | 'freelancer' };
}
`;

function compile(body: string, from = sdkNode): string[] {
  const planFile = join(dir, 'plan.ts');
  writeFileSync(planFile, plan);
  const file = join(dir, `fixture-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, `import { createBalise } from ${JSON.stringify(from)};\nimport { PLAN_VERSION, type BalisePlan } from './plan.ts';\n${body}\n`);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
    typeRoots: [resolve(import.meta.dirname, '../../node_modules/@types')],
  });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === file)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

const typed = `const b = createBalise<BalisePlan>({ writeKey: 'k', planVersion: PLAN_VERSION });\n`;

describe('typed from the plan', () => {
  it('accepts correct calls (required, optional and omitted properties; partial traits)', () => {
    expect(
      compile(
        typed +
          `b.track('mission_created', { mission_id: 'm1', budget: 300 });
b.track('mission_created', { mission_id: 'm1', budget: 300, remote: true }, { userId: 'u1' });
b.track('proposal_sent', { mission_id: 'm1', daily_rate: 500, currency: 'EUR' });
b.track('signed_up');
b.identify('u1', { role: 'client' });
b.page('Home', { anything: 1 });`,
      ),
    ).toEqual([]);
  });

  it.each([
    ['an unknown event name', `b.track('mission_creatd', { mission_id: 'm1', budget: 3 });`],
    ['a missing required property', `b.track('mission_created', { mission_id: 'm1' });`],
    ['a property of the wrong type', `b.track('mission_created', { mission_id: 'm1', budget: '300' });`],
    ['an unplanned property', `b.track('mission_created', { mission_id: 'm1', budget: 3, colour: 'red' });`],
    ['a value outside an enum', `b.track('proposal_sent', { mission_id: 'm1', daily_rate: 1, currency: 'GBP' });`],
    ['omitted properties when some are required', `b.track('proposal_sent');`],
    ['a trait of the wrong type', `b.identify('u1', { role: 'admin' });`],
  ])('rejects %s', (_, call) => {
    expect(compile(typed + call).length).toBeGreaterThan(0);
  });

  it('the browser entry carries the same types', () => {
    const browserTyped = `const b = createBalise<BalisePlan>({ writeKey: 'k' });\n`;
    expect(compile(browserTyped + `b.track('signed_up', {});`, sdkBrowser)).toEqual([]);
    expect(compile(browserTyped + `b.track('nope', {});`, sdkBrowser).length).toBeGreaterThan(0);
  });
});

describe('untyped use', () => {
  it('accepts any event name and properties', () => {
    expect(
      compile(`void PLAN_VERSION; const x: BalisePlan | null = null; void x;
const b = createBalise({ writeKey: 'k' });
b.track('whatever');
b.track('anything_else', { a: 1, nested: { b: [1, 2] } });
b.identify('u', { any: 'trait' });`),
    ).toEqual([]);
  });
});
