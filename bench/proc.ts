/** Linux /proc readings of the process under test: memory, CPU time, its redis-server child. */
import fs from 'node:fs';

const read = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined; // process gone or /proc unavailable
  }
};

/** VmRSS of one process in KiB, or 0 when it is gone. */
export function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(read(`/proc/${pid}/status`) ?? '')?.[1] ?? 0);
}

/** User + system CPU time of one process, all threads, in ms (0 when it is gone); or of one thread, given as `<pid>/task/<tid>`. */
export function cpuMs(pid: number | string): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ, 100 on every Linux Node supports
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

/** The thread ids of a process (none when it is gone). */
function threadIds(pid: number): string[] {
  try {
    return fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

/** Direct children of a process, from /proc/<pid>/task/<tid>/children. */
function childPids(pid: number): number[] {
  return threadIds(pid).flatMap((tid) => (read(`/proc/${pid}/task/${tid}/children`) ?? '').trim().split(/\s+/).filter(Boolean).map(Number));
}

/** CPU of `balise up` and its API children (node:cluster workers), without its redis-server. */
export function baliseCpuMs(pid: number): number {
  return cpuMs(pid) + apiChildPids(pid).reduce((sum, child) => sum + cpuMs(child), 0);
}

/** RSS of `balise up` and its API children, in KiB. */
export function baliseRssKiB(pid: number): number {
  return rssKiB(pid) + apiChildPids(pid).reduce((sum, child) => sum + rssKiB(child), 0);
}

/** The API processes `balise up` forked (`--api-processes`). */
export function apiChildPids(pid: number): number[] {
  return childPids(pid).filter((child) => (read(`/proc/${child}/cmdline`) ?? '').includes('balise.js'));
}

/** The redis-server that `balise up` started for itself, if any. */
export function redisChildPid(pid: number): number | undefined {
  return childPids(pid).find((child) => (read(`/proc/${child}/comm`) ?? '').trim().startsWith('redis-server'));
}

/**
 * `balise up`'s CPU by part, in ms: its API children, its own process, and of that the engine's
 * background merges (threads named MergeMutate, which ClickHouse gives its merge pool). Merge
 * threads live as long as the engine, so summing the live ones loses none of their time.
 */
export function upCpuPartsMs(pid: number): UpCpuParts {
  const merges = threadIds(pid)
    .filter((tid) => (read(`/proc/${pid}/task/${tid}/comm`) ?? '').startsWith('MergeMutate'))
    .reduce((sum, tid) => sum + cpuMs(`${pid}/task/${tid}`), 0);
  return { apiChildren: apiChildPids(pid).reduce((sum, child) => sum + cpuMs(child), 0), primary: cpuMs(pid), merges };
}

export interface UpCpuParts {
  apiChildren: number;
  primary: number;
  merges: number;
}

/** What each part spent between two readings, per event, in µs. */
export function upCpuPartsPerEventUs(before: UpCpuParts, after: UpCpuParts, events: number): UpCpuParts {
  const perEvent = (part: keyof UpCpuParts) => ((after[part] - before[part]) * 1000) / events;
  return { apiChildren: perEvent('apiChildren'), primary: perEvent('primary'), merges: perEvent('merges') };
}

/** The box's CPU time from /proc/stat, in ticks: all of it, and what the hypervisor took (steal). */
function boxTicks(): { total: number; stolen: number } {
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
  const fields = (/^cpu\s+(.*)$/m.exec(read('/proc/stat') ?? '')?.[1] ?? '').split(/\s+/).map(Number);
  return { total: fields.slice(0, 8).reduce((sum, ticks) => sum + ticks, 0), stolen: fields[7] ?? 0 };
}

/**
 * Starts watching the box: the share of its CPU time the hypervisor gave to other machines
 * since (steal time), 0 to 1, or 0 off a virtual machine. A core taken away for milliseconds
 * stalls whatever ran on it, whichever process: it shows in latencies, not in CPU per event.
 */
export function stolenShare(): () => number {
  const before = boxTicks();
  return () => {
    const now = boxTicks();
    const total = now.total - before.total;
    return total > 0 ? (now.stolen - before.stolen) / total : 0;
  };
}

/** Every thread's time on a core and waiting for one (run queue), in ns, from /proc/<pid>/task/<tid>/schedstat. */
function threadSchedule(pid: number): Map<string, { runNs: number; waitNs: number }> {
  const threads = new Map<string, { runNs: number; waitNs: number }>();
  for (const tid of threadIds(pid)) {
    const [run, wait] = (read(`/proc/${pid}/task/${tid}/schedstat`) ?? '').split(' ').map(Number);
    if (Number.isFinite(run) && Number.isFinite(wait)) threads.set(tid, { runNs: run!, waitNs: wait! });
  }
  return threads;
}

/**
 * Starts watching how long each process's threads ran and how long they were ready to run but
 * waited for a core, in ms per second since: on two busy cores, a request waits as long as the
 * threads that serve it do. Counted per thread, so a thread the engine starts meanwhile counts
 * from zero; one that ends meanwhile is left out. Undefined for a process without schedstat
 * (a kernel built without it).
 */
export function runQueueMeter(pids: number[]): () => ({ runMsPerS: number; waitMsPerS: number } | undefined)[] {
  const before = pids.map(threadSchedule);
  const start = performance.now();
  return () => {
    const seconds = (performance.now() - start) / 1000;
    return pids.map((pid, i) => {
      const now = threadSchedule(pid);
      if (now.size === 0) return undefined;
      let runNs = 0;
      let waitNs = 0;
      for (const [tid, { runNs: run, waitNs: wait }] of now) {
        const earlier = before[i]!.get(tid);
        runNs += run - (earlier?.runNs ?? 0);
        waitNs += wait - (earlier?.waitNs ?? 0);
      }
      return { runMsPerS: runNs / 1e6 / seconds, waitMsPerS: waitNs / 1e6 / seconds };
    });
  };
}
