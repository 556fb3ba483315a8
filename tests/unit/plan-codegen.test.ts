import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCodegenAction } from '../../src/cli/plan.ts';
import { codegen } from '../../src/plan/codegen.ts';
import { loadPlan } from '../../src/plan/load.ts';
import { EXAMPLE_PLAN, FIXTURE_PLAN } from '../helpers/plans.ts';
import { runCli } from '../helpers/process.ts';

// The typing checks run on the fixture plan; the committed example output is checked for staleness only.
const PLAN_DIR = FIXTURE_PLAN;
const COMMITTED = path.join(EXAMPLE_PLAN, 'generated/balise-plan.ts');

const header = `import type { BalisePlan } from './balise-plan.ts';
declare function track<K extends keyof BalisePlan['events']>(e: K, p: BalisePlan['events'][K]): void;
declare function identify(userId: string, traits: BalisePlan['traits']): void;
`;

const correct = `${header}
track('mission_proposal_received', { mission_id: 'msn_1', category: 'data_science' });
track('freelancer_profile_completed', {
  freelancer_id: 'fr_1', skills: ['sql', 'dbt'], community: 'data', category: 'bi', daily_rate: 600, remote_preference: 'remote', available_from: '2024-05-01',
});
track('mission_rated', { mission_id: 'msn_1', rater_side: 'company', rating: 5 });
identify('fr_1', { role: 'freelancer', community: 'tech' });
`;

const misuses: Array<[string, string]> = [
  ['misspelt event name', `track('proposal_received', { mission_id: 'msn_1', category: 'bi' });`],
  ['missing required property', `track('mission_proposal_received', { mission_id: 'msn_1' });`],
  ['value outside the enum', `track('mission_proposal_received', { mission_id: 'msn_1', category: 'design' });`],
  ['wrong property type', `track('mission_rated', { mission_id: 'msn_1', rater_side: 'company', rating: '5' });`],
  ['unknown property', `track('mission_started', { mission_id: 'm', freelancer_id: 'f', company_id: 'c', colour: 'red' });`],
  ['array of the wrong type', `track('freelancer_profile_completed', { freelancer_id: 'f', skills: [1], community: 'data', category: 'bi', daily_rate: 1, remote_preference: 'remote' });`],
  ['bad trait value', `identify('u', { role: 'admin' });`],
];

let dir: string;
let diagnostics: Map<string, readonly ts.Diagnostic[]>;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'balise-codegen-'));
  await fs.writeFile(path.join(dir, 'balise-plan.ts'), codegen(await loadPlan(PLAN_DIR)));
  const files = [['correct.ts', correct], ...misuses.map(([, body], i) => [`misuse${i}.ts`, `${header}\n${body}\n`])] as const;
  for (const [name, text] of files) await fs.writeFile(path.join(dir, name), text);
  const program = ts.createProgram(
    files.map(([name]) => path.join(dir, name)),
    {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      types: [],
    },
  );
  diagnostics = new Map(files.map(([name]) => [name, ts.getPreEmitDiagnostics(program, program.getSourceFile(path.join(dir, name)))]));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('generated plan types', () => {
  it('the committed tracking-plan/generated/balise-plan.ts is not stale', async () => {
    expect(await fs.readFile(COMMITTED, 'utf8')).toBe(codegen(await loadPlan(EXAMPLE_PLAN)));
    expect(await planCodegenAction(EXAMPLE_PLAN, COMMITTED, true)).toBe(true);
  });

  it("the fixture plan's generated types, which the SDK typing tests compile against, are not stale", async () => {
    expect(await planCodegenAction(PLAN_DIR, path.join(PLAN_DIR, 'generated/balise-plan.ts'), true)).toBe(true);
  });

  it('codegen --check reports a stale file', async () => {
    const stale = path.join(dir, 'stale.ts');
    await fs.writeFile(stale, "export const PLAN_VERSION = '0.0.1' as const;\n");
    expect(await planCodegenAction(PLAN_DIR, stale, true)).toBe(false);
    expect(await fs.readFile(stale, 'utf8')).toContain('0.0.1');
  });

  it('plan codegen --check fails in one line, saying whether the file is stale or missing', async () => {
    const missing = path.join(dir, 'missing', 'plan.ts');
    const none = await runCli(['plan', 'codegen', '--out', missing, '--check'], { BALISE_PLAN_DIR: PLAN_DIR });
    expect([none.code, none.output.trim()]).toEqual([1, `balise: ${missing} does not exist: run \`balise plan codegen --out ${missing}\` [plan_codegen_stale]`]);
    const stale = path.join(dir, 'stale-cli.ts');
    await fs.writeFile(stale, "export const PLAN_VERSION = '0.0.1' as const;\n");
    const old = await runCli(['plan', 'codegen', '--out', stale, '--check'], { BALISE_PLAN_DIR: PLAN_DIR });
    expect([old.code, old.output.trim()]).toEqual([1, `balise: ${stale} is stale: run \`balise plan codegen --out ${stale}\` [plan_codegen_stale]`]);
  }, 30_000);

  it('writes enum strings with newlines, quotes, backslashes or comment ends as valid TypeScript of the same values', async () => {
    const plan = await loadPlan(PLAN_DIR);
    const odd = ["it's", 'back\\slash', 'new\nline', 'cr\rx', 'a*/b', '${x}', 'q"uote', 'ünï'];
    const event = { ...plan.events[0]!, properties: { ...plan.events[0]!.properties, odd: { type: 'string', enum: odd } } };
    const source = codegen({ ...plan, events: [event, ...plan.events.slice(1)] });
    const out = ts.transpileModule(source, { reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ES2022 } });
    expect(out.diagnostics ?? []).toEqual([]);
    const union = /odd\?: ([^;]+);/.exec(source)![1]!;
    // Each literal of the union, read back as a JavaScript string, is the plan's value.
    const values = union.split(' | ').map((literal) => new Function(`return ${literal};`)() as string);
    expect(values).toEqual(odd);
  });

  it('says an integer is one, and lets an object that takes other keys (additionalProperties: true) take them', async () => {
    const plan = await loadPlan(PLAN_DIR);
    const extra = {
      count: { type: 'integer', minimum: 0 },
      meta: { type: 'object', additionalProperties: true, properties: { a: { type: 'string' } } },
      closed: { type: 'object', properties: { a: { type: 'string' } } },
    };
    const event = { ...plan.events[0]!, properties: { ...plan.events[0]!.properties, ...extra } };
    const source = codegen({ ...plan, events: [event, ...plan.events.slice(1)] });
    expect(source).toMatch(/Checked at ingest: an integer, minimum 0\.\s*\*\/\s*count\?: number;/);
    expect(source).toMatch(/meta\?: \{\s*a\?: string;\s*\} & Record<string, unknown>;/);
    expect(source).toMatch(/closed\?: \{\s*a\?: string;\s*\};/);
  });

  it('exports the plan version and is deterministic', async () => {
    const plan = await loadPlan(PLAN_DIR);
    const text = codegen(plan);
    expect(text).toContain(`export const PLAN_VERSION = '${plan.version}' as const;`);
    expect(codegen({ ...plan, events: [...plan.events].reverse() })).toBe(text);
  });

  it('correct usage compiles', () => {
    expect(diagnostics.get('correct.ts')!.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  });

  it.each(misuses.map(([label], i) => [label, i] as const))('%s fails to compile', (_label, i) => {
    expect(diagnostics.get(`misuse${i}.ts`)!.length).toBeGreaterThan(0);
  });
});
