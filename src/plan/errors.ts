import { BaliseError } from '../errors.ts';
import type { LintMessage } from './model.ts';

/** The plan files cannot be turned into a TrackingPlan; `messages` say where and why. */
export class PlanInvalidError extends BaliseError {
  constructor(
    message: string,
    readonly messages: LintMessage[] = [],
  ) {
    super('plan_invalid', message, { messages });
  }
}

/** `plan build` refused to overwrite a published version with different content. */
export class PlanVersionPublishedError extends BaliseError {
  constructor(version: string, file: string) {
    super('plan_version_published', `plan version ${version} is already published in ${file} with different content; bump the version in plan.yaml (or pass --force)`, { version, file });
  }
}
