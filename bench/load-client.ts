/**
 * The benches' HTTP/1.1 load generator (ingest, soak). It shares the two cores with Balise and the issue
 * counts its CPU, so it does the least a client can: each request (request line, headers, body)
 * is encoded whole before the clock starts and written in one piece to a kept-alive socket, and
 * an answer is read by its status line and Content-Length only. On 100-event requests to a bare
 * Node server, Node's `http.request` spent 1.9–2.3 µs of the generator's CPU per event here and
 * undici's `Pool` 1.8–2.3; this client 0.7–1.1.
 */
import net from 'node:net';

/** One POST as the bytes sent on the socket. */
export function encodeRequest(path: string, headers: Readonly<Record<string, string>>, body: Buffer): Buffer {
  const lines = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`), `Content-Length: ${body.length}`];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** What the head of an answer says: its status, how many body bytes follow, whether the server closes the socket after it. */
export function parseAnswerHead(head: string): { status: number; contentLength: number; closes: boolean } {
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (!status) throw new Error(`not an HTTP/1.1 answer: ${JSON.stringify(head.slice(0, 40))}`);
  const header = (name: string) => new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, 'i').exec(head)?.[1]?.trim();
  // Every answer Balise (and the bench's bare server) sends has a length; a chunked one is a change to notice, not to guess at.
  const length = header('content-length');
  if (length === undefined || !/^\d+$/.test(length)) throw new Error(`answer without a Content-Length (${header('transfer-encoding') ?? 'no length'}): this client reads only those`);
  return { status: Number(status[1]), contentLength: Number(length), closes: header('connection')?.toLowerCase() === 'close' };
}

/** One kept-alive socket carrying one request at a time. */
class Connection {
  private readonly socket: net.Socket;
  private received: Buffer | undefined;
  private pending: { resolve: (status: number) => void; reject: (error: Error) => void } | undefined;
  /** Set once the socket may not carry another request (closed, failed, or the server said Connection: close). */
  done = false;
  /** Requests answered on this socket: a failure on a reused one may be the server closing it while idle. */
  answered = 0;

  constructor(port: number, onIdleClose: (connection: Connection) => void) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    const fail = (error: Error) => {
      this.done = true;
      const pending = this.pending;
      this.pending = undefined;
      if (pending) pending.reject(error);
      else onIdleClose(this);
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(Object.assign(new Error('the server closed the connection before answering'), { code: 'ECONNRESET' })));
  }

  send(request: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.done = true;
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    this.received = this.received ? Buffer.concat([this.received, chunk]) : chunk;
    const headEnd = this.received.indexOf(HEAD_END);
    if (headEnd === -1 || !this.pending) return;
    let answer: ReturnType<typeof parseAnswerHead>;
    try {
      answer = parseAnswerHead(this.received.toString('latin1', 0, headEnd));
    } catch (error) {
      this.close();
      return this.pending.reject(error as Error);
    }
    if (this.received.length < headEnd + HEAD_END.length + answer.contentLength) return;
    this.received = undefined;
    this.answered++;
    if (answer.closes) this.close();
    const { resolve } = this.pending;
    this.pending = undefined;
    resolve(answer.status);
  }
}

/** Requests to one port over at most `maxSockets` kept-alive sockets, each resolved with its answer's status. */
export class LoadClient {
  private readonly idle: Connection[] = [];
  private readonly waiting: (() => void)[] = [];
  private open = 0;

  constructor(
    private readonly port: number,
    private readonly maxSockets = 256,
  ) {}

  async send(request: Buffer): Promise<number> {
    const connection = await this.take();
    const reused = connection.answered > 0;
    try {
      return await connection.send(request);
    } catch (error) {
      // A kept-alive socket the server closed as it was reused: the request never reached it, so it goes again on
      // another socket (a new one, at the latest, which is not retried).
      if (reused && ['ECONNRESET', 'EPIPE'].includes((error as NodeJS.ErrnoException).code ?? '')) return this.send(request);
      throw error;
    } finally {
      this.give(connection);
    }
  }

  close(): void {
    for (const connection of this.idle.splice(0)) connection.close();
  }

  private async take(): Promise<Connection> {
    for (;;) {
      const idle = this.idle.pop();
      if (idle && !idle.done) return idle;
      if (idle) {
        this.open--;
        continue;
      }
      if (this.open < this.maxSockets) {
        this.open++;
        return new Connection(this.port, (closed) => this.forget(closed));
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private give(connection: Connection): void {
    if (connection.done) this.open--;
    else this.idle.push(connection);
    this.waiting.shift()?.();
  }

  private forget(connection: Connection): void {
    const at = this.idle.indexOf(connection);
    if (at === -1) return;
    this.idle.splice(at, 1);
    this.open--;
    this.waiting.shift()?.();
  }
}
