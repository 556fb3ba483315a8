import { describe, expect, it } from 'vitest';
import { lintKpiSources, parseKpiSources } from '../../src/analytics/kpi-lint.ts';
import type { PlanEvent, TrackingPlan } from '../../src/plan/model.ts';

/** A plan held in memory: the KPI lint is pure, no directory is read. */
function event(name: string, properties: Record<string, 'string' | 'number'>, kpis: string[] = []): PlanEvent {
  const schemas = Object.fromEntries(Object.entries(properties).map(([p, type]) => [p, { type }]));
  return { name, kind: 'track', description: '', owner: 'team', status: 'active', properties: schemas, required: [], kpis, file: `events/${name}.yaml` };
}
const plan: TrackingPlan = {
  name: 'in-memory',
  version: '1.0.0',
  description: '',
  sources: [],
  defaults: { mode: 'warn', unplanned: 'allow' },
  events: [event('signed_up', { plan: 'string' }, ['activation']), event('paid', { amount: 'number' }, ['activation'])],
  traits: { properties: {}, required: [] },
};

describe('KPI lint on in-memory files', () => {
  it('parses several files, then checks ids across them', () => {
    const { definitions, messages } = parseKpiSources([
      { file: 'kpis/a.yaml', text: 'funnels:\n  - id: activation\n    steps: [signed_up, paid]\n' },
      { file: 'kpis/b.yaml', text: 'metrics:\n  - { id: activation, type: count, event: paid }\n' },
    ]);
    expect(definitions.funnels.map((f) => f.id)).toEqual(['activation']);
    expect(definitions.metrics.map((m) => m.id)).toEqual(['activation']);
    expect(messages.map((m) => `${m.file}:${m.line} ${m.rule}`)).toEqual(['kpis/b.yaml:2 kpi_duplicate_id']);
  });

  it('reports structure, then plan references, for text held in memory', () => {
    const messages = lintKpiSources(plan, [
      {
        file: 'kpis/a.yaml',
        text: 'funnels:\n  - id: activation\n    steps:\n      - signed_up\n      - event: paid\n        where: { colour: blue }\n  - id: Bad\n    steps: [signed_up, paid]\n',
      },
    ]);
    expect(messages.map((m) => `${m.file}:${m.line} ${m.rule}`)).toEqual(['kpis/a.yaml:7 kpi_id', 'kpis/a.yaml:5 kpi_unknown_property']);
  });

  it('refuses a filter value outside its enum (it matches nothing) and an entity the plan drops at ingest (nothing to count by)', () => {
    const withRules: TrackingPlan = {
      ...plan,
      events: [
        { ...event('signed_up', {}, ['by_remote', 'orders']), properties: { remote: { type: 'string', enum: ['remote', 'hybrid'] }, order_id: { type: 'string', pii: true, pii_action: 'drop' } } },
        { ...event('paid', {}, ['by_remote', 'orders']), properties: { remote: { type: 'string', enum: ['remote', 'hybrid'] }, order_id: { type: 'string', pii: true, pii_action: 'drop' } } },
      ],
    };
    const messages = lintKpiSources(withRules, [
      {
        file: 'kpis/a.yaml',
        text: [
          'funnels:',
          '  - id: by_remote',
          '    steps:',
          '      - event: signed_up',
          '        where: { remote: teleport }',
          '      - event: paid',
          '        where: { remote: { in: [remote, hybrid] } }',
          '  - id: orders',
          '    entity: order_id',
          '    steps: [signed_up, paid]',
          '',
        ].join('\n'),
      },
    ]);
    expect(messages.filter((m) => m.severity === 'error').map((m) => `${m.line} ${m.rule}`)).toEqual(['4 kpi_filter_value', '10 kpi_entity_dropped', '10 kpi_entity_dropped']);
    expect(messages.find((m) => m.rule === 'kpi_filter_value')?.message).toContain('"teleport" is not among its planned values (remote, hybrid)');
  });
});
