/**
 * The typing contract with `balise plan codegen`: with the generated BalisePlan, a wrong event
 * name or property must not compile; without it, anything goes. Checked with the real compiler.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

describe('page() and screen() typed from the plan like track()', () => {
  // The real output of `balise plan codegen` for the fixture plan (the example's 2.0.0): two pages, no screen.
  const generated = resolve(import.meta.dirname, '../../tests/fixtures/plans/marketplace/generated/balise-plan.ts');
  const withGenerated = (body: string) => compile(`import type { BalisePlan as Generated } from ${JSON.stringify(generated)};\nconst g = createBalise<Generated>({ writeKey: 'k' });\n${body}`);

  it('accepts planned pages with their properties, and any screen when none is planned', () => {
    expect(
      withGenerated(`g.page('mission_detail', { mission_id: 'msn_1' });
g.page('mission_list');
g.page('mission_list', { remote: 'hybrid', results_count: 3 }, { userId: 'fr_1', messageId: 'pv-1' });
g.screen('anything', { a: 1 });
g.screen();`),
    ).toEqual([]);
  });

  it.each([
    ['an unplanned page name', `g.page('mision_detail', { mission_id: 'msn_1' });`],
    ['a missing required page property', `g.page('mission_detail', {});`],
    ['omitted properties when some are required', `g.page('mission_detail');`],
    ['a page property outside its enum', `g.page('mission_list', { remote: 'mars' });`],
    ['a nameless page when the plan lists pages', `g.page();`],
  ])('rejects %s', (_, call) => {
    expect(withGenerated(call).length).toBeGreaterThan(0);
  });

  it('untyped, page() takes any name or none', () => {
    expect(
      compile(`void PLAN_VERSION; const x: BalisePlan | null = null; void x;
const b = createBalise({ writeKey: 'k' });
b.page();
b.page(null, { path: '/' });
b.page('Home', { anything: 1 });`),
    ).toEqual([]);
  });
});

describe('dev mode', () => {
  // Found 2026-12-05: the README's `import plan from './plan-x.json'` failed under strict with
  // TS2345 ("no properties in common"): the JSON's defaults carry mode and unplanned too.
  it("accepts `balise plan build`'s file as imported JSON types it, defaults and all", () => {
    const devModule = JSON.stringify(resolve(import.meta.dirname, '../src/dev.ts'));
    expect(
      compile(`import { createDevValidator } from ${devModule};
void PLAN_VERSION; const x: BalisePlan | null = null; void x;
const built = { version: '2.0.1', defaults: { mode: 'strict', unplanned: 'allow' }, events: [{ name: 'signed_up', kind: 'track', properties: {}, required: [] }] };
createBalise({ writeKey: 'k', devValidator: createDevValidator(built) });`),
    ).toEqual([]);
  });
});

describe('a strict TypeScript consumer of the built package', () => {
  // As installed from npm: node_modules/@balise/sdk → sdk/, with its built dist/types/*.d.ts.
  const consumer = mkdtempSync(join(tmpdir(), 'balise-sdk-consumer-'));
  afterAll(() => rmSync(consumer, { recursive: true, force: true }));

  it.each([
    ['NodeNext', { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext }],
    ['bundler', { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }],
  ])('compiles under %s resolution (no TS5097), with the plan types enforced', async (_, resolution) => {
    const { buildDeclarations } = await import('../build.mjs');
    await buildDeclarations();
    mkdirSync(join(consumer, 'node_modules/@balise'), { recursive: true });
    if (!existsSync(join(consumer, 'node_modules/@balise/sdk'))) symlinkSync(resolve(import.meta.dirname, '..'), join(consumer, 'node_modules/@balise/sdk'), 'dir');
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
    writeFileSync(join(consumer, 'plan.ts'), plan);
    const file = join(consumer, `app-${_}.ts`);
    writeFileSync(
      file,
      `import { createBalise, type NodeBalise, type Stats } from '@balise/sdk';
import { createBalise as createBrowser } from '@balise/sdk/browser';
import { createDevValidator } from '@balise/sdk/dev';
import type { BalisePlan } from './plan.js';
const b: NodeBalise<BalisePlan> = createBalise<BalisePlan>({ writeKey: 'k', devValidator: createDevValidator({ events: {} }), onDrop: (events, reason) => console.log(events.length, reason) });
b.track('mission_created', { mission_id: 'm1', budget: 3 }, { messageId: 'job-42' });
const stats: Promise<Stats> = b.close();
void stats;
createBrowser<BalisePlan>({ writeKey: 'k' }).track('signed_up');
// @ts-expect-error a misspelt event must not compile through the package either
b.track('mission_creatd', { mission_id: 'm1', budget: 3 });
`,
    );
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      ...resolution,
      skipLibCheck: false,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: [],
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(problems).toEqual([]);
    // The declarations are what resolved, not the .ts sources.
    expect(
      program
        .getSourceFiles()
        .map((f) => f.fileName)
        .filter((f) => f.includes('/sdk/')),
    ).toEqual(expect.arrayContaining([expect.stringMatching(/sdk\/dist\/types\/node\.d\.ts$/)]));
    expect(program.getSourceFiles().some((f) => /sdk\/src\//.test(f.fileName))).toBe(false);
  });
});
