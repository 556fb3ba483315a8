import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A secret's SHA-256: both sides of a comparison become 32 bytes, so `timingSafeEqual` never
 * sees different lengths and the time taken reveals neither the length nor the first difference.
 */
export function secretDigest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** `a` equals `b`, in time independent of where they differ. */
export function constantTimeEquals(a: string, b: string): boolean {
  return timingSafeEqual(secretDigest(a), secretDigest(b));
}
