import { pino, type Logger } from 'pino';

export type { Logger };

/** Secrets never reach the logs: auth headers, write keys and tokens are redacted wherever they appear. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'writeKey',
  '*.writeKey',
  'password',
  '*.password',
  'token',
  '*.token',
  'adminToken',
  '*.adminToken',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'balise' } };
  return destination ? pino(options, destination) : pino(options);
}
