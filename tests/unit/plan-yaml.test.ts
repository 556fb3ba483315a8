/** YAML with positions (src/plan/yaml.ts): the one line lookup of the plan, alerts.yaml and kpis/*.yaml. */
import { describe, expect, it } from 'vitest';
import { isLintMessage, lineAt, linesOf, nodeLine, parseYaml } from '../../src/plan/yaml.ts';

const TEXT = `name: order_placed
properties:
  order_id:
    type: string
  "a/b":
    type: number
required:
  - order_id
`;

describe('plan/yaml', () => {
  const parsed = parseYaml('events/order_placed.yaml', TEXT);
  if (isLintMessage(parsed)) throw new Error(`fixture must parse: ${parsed.message}`);

  it.each([
    ['', 1],
    ['/name', 1],
    ['/properties', 2],
    ['/properties/order_id', 3],
    ['/properties/order_id/type', 4],
    ['/properties/a~1b', 5],
    ['/required/0', 8],
    ['/properties/missing', 2],
  ])('finds the line of %j', (pointer, line) => {
    expect(lineAt(parsed, pointer)).toBe(line);
  });

  it('gives the lines a plan keeps, and the line of a node', () => {
    expect(linesOf(parsed, ['/name', '/required'])).toEqual({ '': 1, '/name': 1, '/required': 7 });
    const required = parsed.doc.get('required', true);
    expect(nodeLine(parsed.lineCounter, required)).toBe(8);
    expect(nodeLine(parsed.lineCounter, undefined)).toBe(1);
  });

  it('turns a syntax error into a message at its line', () => {
    expect(parseYaml('plan.yaml', 'name: x\nversion: [1.0\n')).toMatchObject({ file: 'plan.yaml', rule: 'yaml_syntax', severity: 'error', line: expect.any(Number) });
  });
});
