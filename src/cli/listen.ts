/**
 * Where an API listens: HOST:PORT, or listening descriptors `up` handed down to its API children
 * (decision 0044). One socket on several descriptors, each watched on its own, lets a busy
 * process accept several connections per turn of its event loop: libuv accepts one per
 * descriptor per turn (libuv/libuv#3696), and under a burst of new connections a loop that turns
 * every 50 ms accepted twenty a second, the rest waiting seconds in the kernel's queue.
 */
import type http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { BaliseError } from '../errors.ts';

/** Pending connections the kernel may hold for the API (capped by net.core.somaxconn). */
export const LISTEN_BACKLOG = 4096;

export type ListenTarget = { host: string; port: number } | { fds: readonly number[] };

/** Why nothing listens at host:port, in one line with a code; `portVariable` is what sets the port. */
export function listenFailure(error: NodeJS.ErrnoException, host: string, port: number, portVariable = 'PORT'): Error {
  if (error.code === 'EADDRINUSE') return new BaliseError('port_in_use', `${host}:${port} is already in use (EADDRINUSE): stop what listens there or set ${portVariable}`);
  const why: Record<string, string> = {
    ENOTFOUND: `HOST "${host}" does not resolve`,
    EAI_AGAIN: `HOST "${host}" does not resolve`,
    EADDRNOTAVAIL: `HOST ${host} is not an address of this machine`,
    EACCES: `port ${port} needs privileges this process does not have`,
  };
  const reason = error.code === undefined ? undefined : why[error.code];
  return reason ? new BaliseError('listen_failed', `cannot listen on ${host}:${port}: ${reason} (${error.code}): set HOST or ${portVariable}`) : error;
}

export function urlOf(address: AddressInfo): string {
  return `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
}

/** Listens on an address or an inherited descriptor; a port in use is `port_in_use`, named by `describe`. */
export function listenOn(server: net.Server, on: { host: string; port: number } | { fd: number }, describe: { host: string; port: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenFailure(error, describe.host, describe.port)));
    if ('fd' in on) server.listen(on, LISTEN_BACKLOG, () => resolve());
    else server.listen(on.port, on.host, LISTEN_BACKLOG, () => resolve());
  });
}

/**
 * Listens on the target; with descriptors, the HTTP server takes the first and the others feed it
 * their connections. Returns what closes those others (the HTTP server is closed by its owner).
 */
export async function listenHttp(server: http.Server, target: ListenTarget, describe: { host: string; port: number }): Promise<() => void> {
  if ('port' in target) {
    await listenOn(server, target, describe);
    return () => undefined;
  }
  const [first, ...others] = target.fds;
  if (first === undefined) throw new BaliseError('api_process_failed', 'no listening descriptor was handed down');
  await listenOn(server, { fd: first }, describe);
  const acceptors = await Promise.all(
    others.map(async (fd) => {
      const acceptor = net.createServer((socket) => server.emit('connection', socket));
      await listenOn(acceptor, { fd }, describe);
      return acceptor;
    }),
  );
  return () => {
    for (const acceptor of acceptors) acceptor.close();
  };
}

/**
 * Counts the requests in flight on an HTTP server, whichever descriptor accepted their
 * connection. net.Server counts only the connections it accepted itself: one fed in by another
 * descriptor's acceptor (above) or passed on by `up`'s primary is not, so `server.close()` alone
 * reports the server drained while such requests still run, and the process exits under them.
 */
export function countRequests(listener: http.RequestListener): { listener: http.RequestListener; idle(): Promise<void> } {
  let inFlight = 0;
  let waiting: (() => void)[] = [];
  return {
    listener: (req, res) => {
      inFlight++;
      res.once('close', () => {
        if (--inFlight > 0) return;
        for (const resolve of waiting) resolve();
        waiting = [];
      });
      listener(req, res);
    },
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve))),
  };
}
