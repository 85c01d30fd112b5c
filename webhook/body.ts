/**
 * Reading admission request bodies within bounds: a limit per endpoint (what the API server can
 * send for that resource), and a cap on the body bytes held by all requests together, so that
 * whoever reaches the port cannot grow the process past its memory limit. See docs/webhook.md
 * ("Request bodies") and docs/limits.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const MiB = 1024 * 1024;

/**
 * The largest object the API server can store: etcd's default request limit
 * (`--max-request-bytes`, 1.5 MiB), which every write of an object must fit. An UPDATE's
 * oldObject was stored; an object over it cannot be stored whatever the webhook answers.
 */
export const STORED_OBJECT_BYTES = 1.5 * MiB;

/** The API server's limit on a request body (apiserver MaxRequestBodyBytes, 3 MiB). */
export const API_REQUEST_BYTES = 3 * MiB;

/** Room for the AdmissionReview around its objects (uid, kind, userInfo, options). */
export const REVIEW_ENVELOPE_BYTES = 64 * 1024;

/** What the webhook reads of request bodies. */
export interface BodyLimits {
  /** Largest /validate-genome body: an UPDATE carries two stored Genomes and the envelope. */
  validateGenome: number;
  /** Largest /mutate-pod body: an UPDATE carries two pods of at most a request each. */
  mutatePod: number;
  /** Body bytes held by all requests together, until each is answered. */
  inFlightBytes: number;
  /** How long a body waits for room under inFlightBytes before it is refused with 503. */
  waitMs: number;
}

/** The defaults: each endpoint's bound, and room for about five of the largest in flight. */
export const DEFAULT_BODY_LIMITS: BodyLimits = {
  validateGenome: 2 * STORED_OBJECT_BYTES + REVIEW_ENVELOPE_BYTES,
  mutatePod: 2 * API_REQUEST_BYTES + REVIEW_ENVELOPE_BYTES,
  inFlightBytes: 32 * MiB,
  waitMs: 1_000,
};

/**
 * The most JSON objects and arrays a body of each endpoint may hold, checked before it is
 * parsed: what a parse costs is mostly its objects (about 60 bytes of heap each, where `{}`
 * takes 3 bytes of body), so a body of empty objects just under the byte limit would cost
 * some 60 MiB per parse. A valid genome spends at least ~23 bytes per object or array (its
 * densest entry is a capability), so a 1,000,000-byte genome has under 44,000, and an UPDATE
 * twice that; a pod review is bounded at one per 16 bytes of two 3 MiB pods.
 */
export const MAX_CONTAINERS = { validateGenome: 150_000, mutatePod: 400_000 } as const;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/**
 * Counts the JSON objects and arrays of a body (a `{` or `[` outside a string), stopping as
 * soon as the count passes `max`. Malformed JSON is counted all the same (the parse refuses it).
 */
export function countContainers(body: Uint8Array, max: number): number {
  let count = 0;
  let inString = false;
  for (let i = 0; i < body.length; i += 1) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) i += 1;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if ((byte === OPEN_BRACE || byte === OPEN_BRACKET) && ++count > max) return count;
  }
  return count;
}

/** A count of bytes that requests hold, with a cap; a taker waits for room, or gives up. */
export class ByteBudget {
  private used = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];

  constructor(readonly cap: number) {}

  /** Bytes held now. */
  held(): number {
    return this.used;
  }

  /** Takes `bytes` at once if they fit; otherwise waits up to `waitMs`. True when taken. */
  take(bytes: number, waitMs: number): Promise<boolean> | true {
    if (this.used + bytes <= this.cap) {
      this.used += bytes;
      return true;
    }
    return new Promise((resolve) => {
      const waiter = {
        bytes,
        grant: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        resolve(false);
      }, waitMs);
      this.waiting.push(waiter);
    });
  }

  /** Gives `bytes` back, and hands the room to waiters that fit (in arrival order). */
  give(bytes: number): void {
    this.used -= bytes;
    for (let i = 0; i < this.waiting.length;) {
      const waiter = this.waiting[i]!;
      if (this.used + waiter.bytes > this.cap) {
        i += 1;
        continue;
      }
      this.used += waiter.bytes;
      this.waiting.splice(i, 1);
      waiter.grant();
    }
  }
}

/** Why a body was not read: the HTTP status and the message sent. */
export interface BodyRefusal {
  status: 413 | 503;
  message: string;
}

/**
 * Answers a refused body and closes the connection after the answer, so that nothing more of
 * the body is read (the rest stays in the socket until it is closed).
 */
export function refuseBody(res: ServerResponse, refusal: BodyRefusal): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({ error: refusal.message });
  res.writeHead(refusal.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    connection: 'close',
    ...(refusal.status === 503 && { 'retry-after': '1' }),
  });
  res.end(text);
}

function tooLarge(limit: number): BodyRefusal {
  return {
    status: 413,
    message: `request body is larger than this endpoint accepts (${limit} bytes); the API server never sends more (docs/limits.md)`,
  };
}

const BUSY: BodyRefusal = {
  status: 503,
  message:
    'the webhook holds as many request bytes as it may; try again (the API server fails closed meanwhile)',
};

/**
 * Reads a request body of at most `bound.bytes` bytes, holding its bytes in `room.budget` as
 * they arrive (given back when the response closes, so the parse and the answer are covered
 * too). Refuses before reading a declared Content-Length over the limit, stops reading as soon
 * as the running count passes it, and refuses a body of more than `bound.containers` objects
 * and arrays (413 each); a chunk that finds no room within `room.waitMs` is refused (503).
 */
export async function readBoundedBody(
  req: IncomingMessage,
  res: ServerResponse,
  bound: { bytes: number; containers: number },
  room: { budget: ByteBudget; waitMs: number },
): Promise<Buffer | BodyRefusal> {
  const body = await readBody(req, res, bound.bytes, room);
  if (!Buffer.isBuffer(body) || countContainers(body, bound.containers) <= bound.containers)
    return body;
  return {
    status: 413,
    message: `request body holds more JSON objects and arrays than a review of this endpoint can (${bound.containers}); see docs/limits.md`,
  };
}

function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  room: { budget: ByteBudget; waitMs: number },
): Promise<Buffer | BodyRefusal> {
  let held = 0;
  let closed = false;
  res.once('close', () => {
    closed = true;
    room.budget.give(held);
    held = 0;
  });
  return new Promise((resolve) => {
    const stop = (refusal: BodyRefusal) => {
      req.removeAllListeners('data');
      req.pause();
      resolve(refusal);
    };
    if (Number(req.headers['content-length'] ?? 0) > limit) return stop(tooLarge(limit));
    const chunks: Buffer[] = [];
    let size = 0;
    // A chunk waiting for room: the stream is paused meanwhile, and the end waits for it.
    let waiting: Promise<void> = Promise.resolve();
    const keep = (chunk: Buffer) => {
      held += chunk.length;
      chunks.push(chunk);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return stop(tooLarge(limit));
      const taken = room.budget.take(chunk.length, room.waitMs);
      if (taken === true) return keep(chunk);
      req.pause();
      waiting = taken.then((ok) => {
        if (!ok) return stop(BUSY);
        // Room granted after the client went away: nothing will give it back but this.
        if (closed) return room.budget.give(chunk.length);
        keep(chunk);
        req.resume();
      });
    });
    req.on('end', () => void waiting.then(() => resolve(Buffer.concat(chunks, held))));
    req.on('error', () => stop({ status: 413, message: 'the request body could not be read' }));
  });
}
