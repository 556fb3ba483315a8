/**
 * Where an import stands, so that a crashed run continues where the server last acknowledged.
 *
 * Batches are sent several at a time and acknowledged in any order; the checkpoint only moves
 * over the longest run of acknowledged batches from the start (a contiguous prefix), so what it
 * records as done was acknowledged by the server, and what comes after is sent again on resume.
 * Messages keep their messageIds, so the ingest's dedupe drops what was sent twice. Pure.
 */
import type { ImportFormat } from './formats.ts';

export interface SourceProgress {
  /** Lines of this source (file, or zip entry) covered by acknowledged batches. */
  line: number;
  done: boolean;
}

export interface ImportTotals {
  lines: number;
  /** Lines that are not JSON: counted and reported, never sent. */
  unparseable: number;
  /** Messages larger than a whole request: counted and reported, never sent. */
  tooLarge: number;
  sent: number;
  /** The server's verdicts. */
  accepted: number;
  quarantined: number;
  /** Dropped at ingest: from a person erased with suppression on (absent in checkpoints written before it was counted). */
  suppressed?: number;
}

export interface Checkpoint {
  version: 1;
  input: string;
  format: ImportFormat | 'auto';
  /** Stamped into every message's context.import.run: the rows of this import, across resumes. */
  run: string;
  startedAt: string;
  completed: boolean;
  sources: Record<string, SourceProgress>;
  totals: ImportTotals;
  /** A few examples of lines that could not be sent ("file:line: reason"). */
  problems: string[];
}

export const MAX_PROBLEMS = 20;

export const emptyTotals = (): ImportTotals => ({ lines: 0, unparseable: 0, tooLarge: 0, sent: 0, accepted: 0, quarantined: 0, suppressed: 0 });

export function newCheckpoint(input: string, format: ImportFormat | 'auto', run: string, now: Date): Checkpoint {
  return { version: 1, input, format, run, startedAt: now.toISOString(), completed: false, sources: {}, totals: emptyTotals(), problems: [] };
}

/** Whether a parsed checkpoint file has the shape this version writes. */
export function isCheckpoint(value: unknown): value is Checkpoint {
  const c = value as Partial<Checkpoint> | null;
  return typeof c === 'object' && c !== null && c.version === 1 && typeof c.run === 'string' && typeof c.sources === 'object' && typeof c.totals === 'object';
}

/** One batch's span of a source, and what was in it. */
export interface LedgerEntry {
  source: string;
  /** The source's line count once this batch is acknowledged. */
  endLine: number;
  /** The source's last batch: acknowledging it marks the source done. */
  last: boolean;
  lines: number;
  unparseable: number;
  tooLarge: number;
  sent: number;
  problems: string[];
}

export interface Verdict {
  accepted: number;
  quarantined: number;
  suppressed?: number;
}

export class Ledger {
  private readonly entries = new Map<number, { entry: LedgerEntry; verdict?: Verdict }>();
  private nextSeq = 0;
  private committedSeq = 0;

  constructor(readonly state: Checkpoint) {}

  /** Records a batch about to be sent; returns its sequence number. */
  register(entry: LedgerEntry): number {
    const seq = this.nextSeq++;
    this.entries.set(seq, { entry });
    return seq;
  }

  /** Batches sent and not yet folded into the checkpoint. */
  get pending(): number {
    return this.entries.size;
  }

  /** The server acknowledged batch `seq`. Returns true when the checkpoint moved. */
  acknowledge(seq: number, verdict: Verdict): boolean {
    const slot = this.entries.get(seq);
    if (!slot) return false;
    slot.verdict = verdict;
    let moved = false;
    for (let head = this.entries.get(this.committedSeq); head?.verdict; head = this.entries.get(this.committedSeq)) {
      this.fold(head.entry, head.verdict);
      this.entries.delete(this.committedSeq);
      this.committedSeq++;
      moved = true;
    }
    return moved;
  }

  private fold(entry: LedgerEntry, verdict: Verdict): void {
    const t = this.state.totals;
    t.lines += entry.lines;
    t.unparseable += entry.unparseable;
    t.tooLarge += entry.tooLarge;
    t.sent += entry.sent;
    t.accepted += verdict.accepted;
    t.quarantined += verdict.quarantined;
    t.suppressed = (t.suppressed ?? 0) + (verdict.suppressed ?? 0);
    for (const problem of entry.problems) if (this.state.problems.length < MAX_PROBLEMS) this.state.problems.push(problem);
    this.state.sources[entry.source] = { line: entry.endLine, done: entry.last };
  }
}
