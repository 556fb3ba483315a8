/**
 * Reads an ingest request's body as bytes, decompressed (gzip, deflate), at most `limitBytes`
 * once decompressed: what express's raw body parser did for these routes, with the same error
 * codes, now that they are served before express (decision 0050).
 */
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import getRawBody from 'raw-body';
import { BaliseError, HttpError } from '../errors.ts';
import { isPlainObject } from '../util/objects.ts';

/**
 * The answer to a body that could not be read (raw-body's and zlib's errors, also through
 * express's body parsers on the /api routes), or undefined for anything else (a fault of ours).
 */
export function bodyReadError(error: unknown, maxRequestBytes: number): BaliseError | undefined {
  if (error instanceof HttpError) return error;
  const type = isPlainObject(error) ? error.type : undefined;
  if (type === 'entity.too.large') return new BaliseError('payload_too_large', `the request body is larger than ${maxRequestBytes} bytes (after decompression)`, { maxRequestBytes });
  if (type === 'encoding.unsupported') return new BaliseError('unsupported_encoding', 'only gzip, deflate or identity Content-Encoding is accepted');
  if (isPlainObject(error) && typeof error.code === 'string' && error.code.startsWith('Z_')) return new BaliseError('invalid_gzip', 'the request body could not be decompressed');
  if (type === 'request.aborted') return new BaliseError('request_aborted', 'the request was aborted');
  if (isPlainObject(error) && typeof error.status === 'number' && error.status >= 400 && error.status < 500)
    return new HttpError(error.status, 'invalid_request', 'the request body could not be read');
  return undefined;
}

/** Whether the request says a body follows (a length, even 0, or a chunked one). */
const hasBody = (req: IncomingMessage) => req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;

/** Reads the rest of a request whose body is refused, so its answer is read rather than cut off by a reset. */
function drain(req: IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
    req.resume();
  });
}

/**
 * The body's bytes; an empty buffer when the request has none. Rejects with a BaliseError: at
 * once for an encoding other than gzip, deflate or identity (Segment clients send gzip; nothing
 * else is decoded), else (bodyReadError) once the rest of a refused body has been read off.
 */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase() || 'identity';
  if (!['identity', 'gzip', 'deflate'].includes(encoding)) throw new BaliseError('unsupported_encoding', 'only gzip, deflate or identity Content-Encoding is accepted');
  if (!hasBody(req)) return Buffer.alloc(0);
  const decompress = encoding === 'gzip' ? zlib.createGunzip() : encoding === 'deflate' ? zlib.createInflate() : undefined;
  const stream = decompress ? req.pipe(decompress) : req;
  const stopDecompressing = () => {
    if (!decompress) return;
    req.unpipe(decompress);
    decompress.on('error', () => undefined);
    decompress.destroy();
  };
  let body: Buffer;
  try {
    // The declared length is checked only when the bytes are the body itself.
    body = await getRawBody(stream, { limit: limitBytes, length: decompress ? undefined : req.headers['content-length'] });
  } catch (error) {
    stopDecompressing();
    await drain(req);
    throw bodyReadError(error, limitBytes) ?? error;
  }
  stopDecompressing();
  // Bytes after the end of a compressed body are read and dropped, so the request can end.
  req.resume();
  return body;
}
