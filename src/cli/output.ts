import { CommanderError } from 'commander';
import type { FormatOptions } from '../analytics/format.ts';
import { loadConfig } from '../config/index.ts';
import { BaliseError } from '../errors.ts';

/**
 * Exit codes of the `balise` command (documented in README.md, "Exit codes"): scripts branch on
 * them, so they stay stable.
 */
export const EXIT = {
  ok: 0,
  /** The command ran and failed: a plan check with errors, a query the server refused, … */
  failure: 1,
  /** The command line was wrong: unknown command or option, missing or invalid argument. */
  usage: 2,
  /** No Balise server answered at the URL the CLI was pointed at (--url, BALISE_URL, PORT). */
  unreachable: 3,
} as const;

/**
 * Error codes that are a wrong command line rather than a failure of the command: an option's
 * value the CLI or the server refused (`--from garbage`, `--format xml`, `--attribution x`).
 */
const USAGE_CODES = new Set<string>([
  'usage',
  'invalid_parameter',
  'invalid_argument',
  'invalid_date',
  'invalid_range',
  'invalid_since',
  'invalid_breakdown',
  'unknown_breakdown_property',
  'invalid_attribution',
  'invalid_time_zone',
  // `plan diff <base>`: a base that is neither a plan's folder nor a git ref.
  'plan_diff_base',
]);

export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof BaliseError) {
    if (error.code === 'server_unreachable') return EXIT.unreachable;
    if (USAGE_CODES.has(error.code)) return EXIT.usage;
  }
  return EXIT.failure;
}

/** A stable code for any error: ours carry one, commander's are `usage`, the rest `internal`. */
export function errorCode(error: unknown): string {
  if (error instanceof CommanderError) return 'usage';
  if (error instanceof BaliseError) return error.code;
  return 'internal';
}

/** Commander's messages start with "error: "; the JSON form carries the reason alone. */
export function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof CommanderError ? message.replace(/^error: /, '') : message;
}

/** `{"error":{"code":…,"message":…}}`: what `--json` prints instead of a text line. */
export function formatJsonError(error: unknown): string {
  return JSON.stringify({ error: { code: errorCode(error), message: errorMessage(error) } });
}

/** `--json` anywhere among the arguments (before a `--` that ends the options). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const options = end === -1 ? argv : argv.slice(0, end);
  // `--format json` asks for JSON as `--json` does: its errors are JSON too.
  return options.includes('--json') || options.includes('--format=json') || options.some((arg, i) => arg === '--format' && options[i + 1] === 'json');
}

/** ANSI colour only on a terminal, and never when NO_COLOR is set. */
export function useColour(noColor: boolean, isTTY: boolean | undefined = process.stdout.isTTY): boolean {
  return !noColor && isTTY === true;
}

/** How CLI tables are drawn for this process's stdout. */
export function tableOptions(): FormatOptions {
  return { colour: useColour(loadConfig().noColor) };
}
