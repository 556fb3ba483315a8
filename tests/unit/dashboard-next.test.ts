import { describe, expect, it } from 'vitest';
import { loginFor, safeNext } from '../../src/dashboard/next.ts';

describe('safeNext: where the login may send the user', () => {
  it('keeps a path on this origin, query and hash included', () => {
    expect(safeNext('/explore?q=abc&from=2026-01-01&to=2026-01-31')).toBe('/explore?q=abc&from=2026-01-01&to=2026-01-31');
    expect(safeNext('/people?id=u1#timeline')).toBe('/people?id=u1#timeline');
    expect(safeNext('/')).toBe('/');
  });

  it.each([
    ['a protocol-relative URL', '//evil.example/x'],
    ['a backslash read as a slash', '/\\evil.example'],
    ['an absolute URL', 'https://evil.example/'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a relative path', 'explore'],
    ['a tab inside the host part', '/\t/evil.example'],
    ['a newline', '/explore\r\nSet-Cookie: x=1'],
    ['nothing', undefined],
    ['an array (?next=a&next=b)', ['/a', '/b']],
    ['the login page', '/login?next=/explore'],
  ])('refuses %s', (_name, value) => {
    expect(safeNext(value)).toBe('/');
  });

  it('sends a signed-out visitor to the login with where they were going', () => {
    expect(loginFor('/explore?q=x')).toBe(`/login?next=${encodeURIComponent('/explore?q=x')}`);
    expect(loginFor('/')).toBe('/login');
  });
});
