/** Every error Balise raises on purpose carries a stable, documented code. */
export class BaliseError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ConfigError extends BaliseError {
  constructor(variable: string, reason: string) {
    super('config_invalid', `${variable}: ${reason}`, { variable });
  }
}

export class MigrationError extends BaliseError {}

export class DependencyMissingError extends BaliseError {
  constructor(program: string, installHint: string) {
    super('dependency_missing', `${program} is not installed: ${installHint}`, { program });
  }
}

/** An HTTP-facing error: status plus a stable code that clients can branch on. */
export class HttpError extends BaliseError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
  }
}
