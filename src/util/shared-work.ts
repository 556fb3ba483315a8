/**
 * One computation per key at a time: a caller asking for a key whose computation is under way gets
 * that computation's result instead of starting another. Nothing is kept once it settles, so this
 * is not a cache: an answer is at most one computation older than the question.
 */
export function sharedWork<T>(): (key: string, work: () => Promise<T>) => Promise<T> {
  const running = new Map<string, Promise<T>>();
  return (key, work) => {
    const current = running.get(key);
    if (current) return current;
    const started = Promise.resolve()
      .then(work)
      .finally(() => running.delete(key));
    running.set(key, started);
    return started;
  };
}
