import { BaliseError, type ErrorCode } from '../errors.ts';
import type { LintMessage } from '../plan/model.ts';

/** kpis/*.yaml cannot be turned into definitions; `messages` say where and why. */
export class KpiDefinitionError extends BaliseError {
  constructor(
    message: string,
    readonly messages: LintMessage[] = [],
  ) {
    super('kpi_definition_invalid', message, { messages });
  }
}

export class FunnelNotFoundError extends BaliseError {
  constructor(id: string, known: string[]) {
    super('funnel_not_found', `no funnel "${id}" (known: ${known.join(', ') || 'none'})`, { id });
  }
}

export class RetentionNotFoundError extends BaliseError {
  constructor(id: string, known: string[]) {
    super('retention_not_found', `no retention "${id}" (known: ${known.join(', ') || 'none'})`, { id });
  }
}

/** A request parameter (date, breakdown property) that cannot be used. */
export class AnalyticsInputError extends BaliseError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
  }
}

/** The analyst's SQL was refused before reaching ClickHouse (multi-statement, not a query...). */
export class SqlRejectedError extends BaliseError {
  constructor(reason: string) {
    super('sql_rejected', reason);
  }
}
