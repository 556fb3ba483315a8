/** Just enough semver for plan versions (MAJOR.MINOR.PATCH, no pre-release tags). */

export type Semver = readonly [number, number, number];
export type Bump = 'major' | 'minor' | 'patch' | 'none';

const SEMVER_RE = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export function parseSemver(version: string): Semver | undefined {
  const m = SEMVER_RE.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function isSemver(version: string): boolean {
  return parseSemver(version) !== undefined;
}

/** Negative when a < b. Invalid versions sort first so a valid one is always "later". */
export function compareSemver(a: string, b: string): number {
  const pa = parseSemver(a);
  const pb = parseSemver(b);
  if (!pa || !pb) return (pa ? 1 : 0) - (pb ? 1 : 0) || a.localeCompare(b);
  return pa[0] - pb[0] || pa[1] - pb[1] || pa[2] - pb[2];
}

/** The bump from `from` to `to`; 'downgrade' when `to` is lower, 'invalid' when either is not semver. */
export function bumpBetween(from: string, to: string): Bump | 'downgrade' | 'invalid' {
  const a = parseSemver(from);
  const b = parseSemver(to);
  if (!a || !b) return 'invalid';
  const cmp = compareSemver(from, to);
  if (cmp === 0) return 'none';
  if (cmp > 0) return 'downgrade';
  if (b[0] !== a[0]) return 'major';
  if (b[1] !== a[1]) return 'minor';
  return 'patch';
}

export const BUMP_RANK: Record<Bump, number> = { none: 0, patch: 1, minor: 2, major: 3 };

/** The version `bump` makes of `from` (2.3.1 → major 3.0.0, minor 2.4.0, patch 2.3.2); undefined when `from` is not semver. */
export function bumped(from: string, bump: Exclude<Bump, 'none'>): string | undefined {
  const v = parseSemver(from);
  if (!v) return undefined;
  const [major, minor, patch] = v;
  return bump === 'major' ? `${major + 1}.0.0` : bump === 'minor' ? `${major}.${minor + 1}.0` : `${major}.${minor}.${patch + 1}`;
}
