/**
 * Plan violations in words, one per line: the rule's code, then its message. The Live page and
 * Data health's quarantine examples show them the same way.
 */
import type { Violation } from '../../types.ts';
import { el } from './dom.ts';

export type ViolationText = Pick<Violation, 'rule' | 'message'>;

export function violationList(violations: readonly ViolationText[]): HTMLElement {
  return el('ul', { class: 'violations' }, ...violations.map((v) => el('li', {}, el('code', {}, v.rule), ' ', v.message)));
}

const isViolation = (v: unknown): v is ViolationText => typeof v === 'object' && v !== null && 'rule' in v && 'message' in v && typeof v.rule === 'string' && typeof v.message === 'string';

/** The violations column of the quarantine table (JSON), or undefined when it is not a list of them. */
export function parseViolations(text: string): ViolationText[] | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) && parsed.length > 0 && parsed.every(isViolation) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
