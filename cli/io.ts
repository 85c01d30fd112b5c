import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { REFUSAL_CODES, refuse, type Refusal, type RefusalCode } from '../core/codes.ts';
import { displayMessage, displayText } from '../core/display.ts';

/**
 * Thrown by CLI helpers to end the program with a refusal (no stack trace). `io` marks a file
 * that could not be opened or read at all: `genome` exits 2 for it (I/O), 1 for a refusal.
 */
export class CliRefusal extends Error {
  constructor(
    readonly refusal: Refusal,
    readonly io = false,
  ) {
    super(refusal.message);
  }
}

/** A command line that does not parse: `genome` prints a short usage and exits 2. */
export class UsageError extends Error {
  constructor(readonly line: string) {
    super(`usage: ${line}`);
  }
}

/** The codes a file read refuses with, so that a trust file never reports a genome code. */
export interface ReadCodes {
  missing: RefusalCode;
  unreadable: RefusalCode;
  tooLarge: RefusalCode;
}

/** Codes for reading a genome file. */
export const GENOME_READ: ReadCodes = {
  missing: 'GENOME_MISSING',
  unreadable: 'GENOME_UNREADABLE',
  tooLarge: 'GENOME_TOO_LARGE',
};

/** Codes for reading a trust file. */
export const TRUST_READ: ReadCodes = {
  missing: 'TRUST_FILE_MISSING',
  unreadable: 'TRUST_FILE_UNREADABLE',
  tooLarge: 'TRUST_FILE_TOO_LARGE',
};

/** Codes for reading a policy file (--policy): every failure is a policy that cannot be read. */
export const POLICY_READ: ReadCodes = {
  missing: 'POLICY_INVALID',
  unreadable: 'POLICY_INVALID',
  tooLarge: 'POLICY_INVALID',
};

/** The path that means standard input. /dev/stdin is read the same way (fd 0). */
export const STDIN_PATH = '-';

/** What to read and how to refuse. */
interface Input {
  path: string;
  what: string;
  maxBytes: number;
  codes: ReadCodes;
}

const fail = (code: RefusalCode, message: string, io = false) =>
  new CliRefusal(refuse(code, message), io);

/** The input's name as shown in messages: standard input by name, a path escaped and clipped. */
function shown(input: Input): string {
  const isStdin = input.path === STDIN_PATH || input.path === '/dev/stdin';
  return `${input.what} ${isStdin ? '(standard input)' : displayText(input.path)}`;
}

function open(input: Input): { fd: number; owned: boolean } {
  // fd 0 directly: opening /dev/stdin fails (ENXIO) when standard input is a socket.
  if (input.path === STDIN_PATH || input.path === '/dev/stdin') return { fd: 0, owned: false };
  try {
    return { fd: openSync(input.path, 'r'), owned: true };
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? 'error';
    const message = `${shown(input)} does not exist or cannot be opened (${why})`;
    throw fail(input.codes.missing, message, true);
  }
}

/** Waits a little without spinning, for a non-blocking descriptor that has no data yet. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Reads at most maxBytes + 1 bytes from a descriptor, whatever it is (regular file, FIFO,
 * pipe, socket, character device): one byte over the limit is enough to refuse.
 */
function readAtMost(fd: number, maxBytes: number): Buffer {
  const buffer = Buffer.alloc(maxBytes + 1);
  let length = 0;
  while (length < buffer.length) {
    let read: number;
    try {
      read = readSync(fd, buffer, length, buffer.length - length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      pause(5);
      continue;
    }
    if (read === 0) break;
    length += read;
  }
  return buffer.subarray(0, length);
}

function readBytes(input: Input, fd: number): Buffer {
  const stat = fstatSync(fd);
  if (stat.isDirectory()) {
    throw fail(input.codes.unreadable, `${shown(input)} is a directory, not a file`, true);
  }
  // A regular file says its size: refuse it unread. Anything else is read to the limit.
  if (stat.isFile() && stat.size > input.maxBytes) {
    const message = `${shown(input)} is ${stat.size} bytes, over the limit of ${input.maxBytes}`;
    throw fail(input.codes.tooLarge, message);
  }
  let bytes: Buffer;
  try {
    bytes = readAtMost(fd, input.maxBytes);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? 'error';
    throw fail(input.codes.unreadable, `${shown(input)} cannot be read (${why})`, true);
  }
  if (bytes.length > input.maxBytes) {
    const message = `${shown(input)} is more than ${input.maxBytes} bytes, the limit`;
    throw fail(input.codes.tooLarge, message);
  }
  return bytes;
}

/**
 * Reads a text file for a CLI, refusing with the stable codes given: a path that cannot be
 * opened, a directory, more than maxBytes (never reading more than one byte past the limit,
 * whatever the file is), an empty file, or bytes that are not UTF-8. `-` and /dev/stdin read
 * standard input.
 */
export function readTextFile(
  path: string,
  what: string,
  maxBytes: number,
  codes: ReadCodes = GENOME_READ,
): string {
  const input: Input = { path, what, maxBytes, codes };
  const { fd, owned } = open(input);
  let bytes: Buffer;
  try {
    bytes = readBytes(input, fd);
  } finally {
    if (owned) closeSync(fd);
  }
  if (bytes.length === 0) throw fail(codes.unreadable, `${shown(input)} is empty`);
  try {
    // ignoreBOM keeps a byte-order mark in the text, so that the strict parser refuses it.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw fail(codes.unreadable, `${shown(input)} is not UTF-8 text`);
  }
}

/** Formats a refusal for people: the code, the message, what it means and what to do. */
export function formatRefusal(refusal: Refusal): string {
  const info = REFUSAL_CODES[refusal.code];
  return [
    `REFUSED ${refusal.code}`,
    ...(refusal.field === undefined ? [] : [`  field:      ${displayMessage(refusal.field)}`]),
    `  reason:     ${displayMessage(refusal.message)}`,
    `  meaning:    ${info.meaning}`,
    `  what to do: ${info.action}`,
  ].join('\n');
}

/**
 * Runs a CLI body: a CliRefusal prints its refusal and exits 1; any other error prints its
 * message (never a stack trace) and exits 1.
 */
export function runCli(body: () => number | Promise<number>): void {
  Promise.resolve()
    .then(body)
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        if (err instanceof CliRefusal) console.error(formatRefusal(err.refusal));
        else
          console.error(
            `error: ${displayMessage(err instanceof Error ? err.message : String(err))}`,
          );
        process.exitCode = 1;
      },
    );
}

/** Throws a usage error with the usage line. */
export function usage(line: string): never {
  throw new UsageError(line);
}
