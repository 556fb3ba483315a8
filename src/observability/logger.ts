import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from '../config/index.ts';

export type { Logger };

/** Secrets never reach the logs: auth headers, write keys and tokens are redacted wherever they appear. */
const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'writeKey', '*.writeKey', 'password', '*.password', 'token', '*.token', 'adminToken', '*.adminToken'];

/** How log lines look: JSON for machines, pino-pretty for a person at a terminal. */
export interface LogStyle {
  format: 'json' | 'pretty';
  colour: boolean;
}

/** LOG_FORMAT=auto means pretty when stdout (where pino writes) is a terminal; NO_COLOR drops colour. */
export function logStyle(config: Pick<Config, 'logFormat' | 'noColor'>, stdoutIsTTY: boolean = process.stdout.isTTY === true): LogStyle {
  const format = config.logFormat === 'auto' ? (stdoutIsTTY ? 'pretty' : 'json') : config.logFormat;
  return { format, colour: format === 'pretty' && stdoutIsTTY && !config.noColor };
}

export function createLogger(level: string, destination?: NodeJS.WritableStream, style: LogStyle = { format: 'json', colour: false }): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'balise' } };
  if (style.format === 'pretty') {
    // In-thread and synchronous (no transport worker): the last lines before an exit are not lost.
    const stream = pretty({ colorize: style.colour, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', destination: destination ?? 1 });
    return pino(options, stream);
  }
  return destination ? pino(options, destination) : pino(options);
}
