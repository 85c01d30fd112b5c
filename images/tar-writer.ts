import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

/** One entry of a tar archive; a file's content comes from a host file or a buffer. */
export interface TarEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  /** For files: where the bytes are, and how many. */
  source?: { hostPath: string; size: number } | { data: Buffer };
  /** For symlinks: the target. */
  linkname?: string;
}

/** What was written: the archive's size and its sha256 digest (lowercase hex). */
export interface TarDigest {
  size: number;
  sha256: string;
}

const BLOCK = 512;
const TYPE_FLAGS = { file: '0', dir: '5', symlink: '2' } as const;

/**
 * Writes `entries` as a reproducible tar (POSIX pax, mtime 0, numeric owners, no user names)
 * to `outPath`, in the given order, and returns its size and digest.
 */
export async function writeTar(outPath: string, entries: Iterable<TarEntry>): Promise<TarDigest> {
  const out = createWriteStream(outPath);
  const sink = new HashingSink(out);
  for (const entry of entries) await writeEntry(sink, entry);
  await sink.write(Buffer.alloc(BLOCK * 2));
  out.end();
  await once(out, 'finish');
  return { size: sink.size, sha256: sink.hash.digest('hex') };
}

class HashingSink {
  readonly hash: Hash = createHash('sha256');
  size = 0;

  constructor(private readonly out: WriteStream) {}

  async write(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }
}

async function writeEntry(sink: HashingSink, entry: TarEntry): Promise<void> {
  const name = entry.type === 'dir' && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
  const size = entry.type === 'file' ? contentSize(entry) : 0;
  const pax = paxRecords(name, entry.linkname ?? '');
  if (pax.length > 0)
    await writeBlocks(
      sink,
      header({ ...entry, name: 'PaxHeader', size: pax.length, flag: 'x' }),
      pax,
    );
  await sink.write(header({ ...entry, name, size, flag: TYPE_FLAGS[entry.type] }));
  if (entry.type === 'file') await writeContent(sink, entry, size);
}

function contentSize(entry: TarEntry): number {
  const source = entry.source;
  if (!source) return 0;
  return 'data' in source ? source.data.length : source.size;
}

async function writeContent(sink: HashingSink, entry: TarEntry, size: number): Promise<void> {
  const source = entry.source;
  if (source && 'data' in source) await sink.write(source.data);
  else if (source) {
    let read = 0;
    for await (const chunk of createReadStream(source.hostPath) as AsyncIterable<Buffer>) {
      read += chunk.length;
      await sink.write(chunk);
    }
    if (read !== size) throw new Error(`${source.hostPath} changed size while it was archived`);
  }
  const pad = (BLOCK - (size % BLOCK)) % BLOCK;
  if (pad > 0) await sink.write(Buffer.alloc(pad));
}

async function writeBlocks(sink: HashingSink, head: Buffer, data: Buffer): Promise<void> {
  await sink.write(head);
  await sink.write(data);
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
  if (pad > 0) await sink.write(Buffer.alloc(pad));
}

/** Pax records for a path or link target that does not fit the 100-byte ustar fields. */
function paxRecords(name: string, linkname: string): Buffer {
  const records: string[] = [];
  if (Buffer.byteLength(name) > 100) records.push(paxRecord('path', name));
  if (Buffer.byteLength(linkname) > 100) records.push(paxRecord('linkpath', linkname));
  return Buffer.from(records.join(''));
}

function paxRecord(key: string, value: string): string {
  // The length prefix counts itself, so grow it until the total is stable.
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  while (String(length).length + Buffer.byteLength(body) !== length)
    length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

interface HeaderFields {
  name: string;
  size: number;
  flag: string;
  mode: number;
  uid: number;
  gid: number;
  linkname?: string;
}

function header(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  const put = (offset: number, length: number, value: string) =>
    block.write(value, offset, Math.min(Buffer.byteLength(value), length), 'utf8');
  const octal = (offset: number, length: number, value: number) =>
    put(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
  put(0, 100, truncate(fields.name, 100));
  octal(100, 8, fields.mode & 0o7777);
  octal(108, 8, fields.uid);
  octal(116, 8, fields.gid);
  octal(124, 12, fields.size);
  octal(136, 12, 0);
  put(148, 8, '        ');
  put(156, 1, fields.flag);
  put(157, 100, truncate(fields.linkname ?? '', 100));
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  let sum = 0;
  for (const byte of block) sum += byte;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

/** The longest prefix of `value` that fits `bytes` UTF-8 bytes (the pax record has the whole). */
function truncate(value: string, bytes: number): string {
  let result = value;
  while (Buffer.byteLength(result) > bytes) result = result.slice(0, -1);
  return result;
}
