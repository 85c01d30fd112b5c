/**
 * The build manifest over a real directory: the digest of each listed file's raw bytes, read
 * only when it is a regular file inside the root (symlinks are resolved and refused when they
 * leave it; a FIFO or device is refused without being opened for reading), bounded in size.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readlinkSync,
  readSync,
  realpathSync,
} from 'node:fs';
import { join, sep } from 'node:path';
import {
  checkBuildManifest,
  manifestTarget,
  type BuildManifestResult,
  type FileDigest,
  type ManifestEntry,
  type ManifestRules,
} from '../core/build-manifest.ts';
import { refuse } from '../core/codes.ts';
import { CliRefusal } from './io.ts';

/** The largest file hashed: governance modules are small; a bigger file is refused. */
export const MAX_MANIFEST_FILE_BYTES = 64 * 1024 * 1024;

const CHUNK = 1024 * 1024;
/** ENOENT: nothing there; ENOTDIR: a parent is a file; ELOOP only after realpath: see below. */
const ABSENT = new Set(['ENOENT', 'ENOTDIR']);

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code ?? 'error';
const inside = (root: string, path: string) => path === root || path.startsWith(root + sep);

/** The real path of root/path, or what is wrong with it. */
function resolveUnder(realRoot: string, path: string): { real: string } | FileDigest {
  let real: string;
  try {
    real = realpathSync(join(realRoot, path));
  } catch (err) {
    const code = errno(err);
    if (ABSENT.has(code)) return { kind: 'missing' };
    return { kind: 'invalid', why: `cannot be resolved (${code})` };
  }
  if (!inside(realRoot, real) || real === realRoot)
    return { kind: 'invalid', why: 'leaves the root through a symlink' };
  return { real };
}

/** Where an open descriptor really is (Linux /proc), to catch a swap after realpath. */
function openedPath(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

function hashOpen(fd: number, realRoot: string): FileDigest {
  const stat = fstatSync(fd);
  if (!stat.isFile()) return { kind: 'invalid', why: 'is not a regular file' };
  if (stat.size > MAX_MANIFEST_FILE_BYTES)
    return { kind: 'invalid', why: `is larger than ${MAX_MANIFEST_FILE_BYTES} bytes` };
  const where = openedPath(fd);
  if (where !== undefined && !inside(realRoot, where))
    return { kind: 'invalid', why: 'leaves the root through a symlink' };
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(CHUNK);
  let total = 0;
  for (;;) {
    const n = readSync(fd, buffer, 0, CHUNK, null);
    if (n === 0) break;
    total += n;
    if (total > MAX_MANIFEST_FILE_BYTES)
      return { kind: 'invalid', why: `is larger than ${MAX_MANIFEST_FILE_BYTES} bytes` };
    hash.update(buffer.subarray(0, n));
  }
  return { kind: 'file', sha256: hash.digest('hex') };
}

/**
 * The digest of root/path: raw bytes, regular files only, never outside root (symlinks resolved
 * and refused when they leave it), bounded size (MAX_MANIFEST_FILE_BYTES). `path` is a
 * manifestTarget path (relative, no `..`).
 */
export function fileDigestUnder(root: string, path: string): FileDigest {
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch (err) {
    return { kind: 'invalid', why: `the root cannot be opened (${errno(err)})` };
  }
  const resolved = resolveUnder(realRoot, path);
  if (!('real' in resolved)) return resolved;
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO opens at once (and is then refused) instead of waiting for a writer.
    fd = openSync(resolved.real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errno(err);
    if (ABSENT.has(code)) return { kind: 'missing' };
    return { kind: 'invalid', why: `cannot be opened (${code})` };
  }
  try {
    return hashOpen(fd, realRoot);
  } catch (err) {
    return { kind: 'invalid', why: `cannot be read (${errno(err)})` };
  } finally {
    closeSync(fd);
  }
}

/** checkBuildManifest over a directory. */
export function verifyBuildManifestAt(
  files: readonly ManifestEntry[],
  root: string,
  rules: ManifestRules,
): BuildManifestResult {
  return checkBuildManifest(files, (path) => fileDigestUnder(root, path), rules);
}

/**
 * The manifest's files with their sha256 filled in from root (upstream's genome-build-manifest:
 * in production the dist file of a listed …/src/….ts is hashed; the listed path is kept).
 * Throws a CliRefusal naming the first file that cannot be hashed.
 */
export function fillBuildManifest(
  files: readonly ManifestEntry[],
  root: string,
  rules: ManifestRules,
): ManifestEntry[] {
  return files.map((entry) => {
    const target = manifestTarget(entry.path, rules);
    if (!target.ok) throw new CliRefusal(target.refusal);
    const digest = fileDigestUnder(root, target.path);
    if (digest.kind === 'file') return { path: entry.path, sha256: digest.sha256 };
    // Let the checker word the refusal (missing / invalid) the same way verify does.
    const result = checkBuildManifest([{ path: entry.path, sha256: '' }], () => digest, rules);
    throw new CliRefusal(
      result.ok ? refuse('GENOME_MANIFEST_PATH_INVALID', 'unreachable') : result.refusal,
    );
  });
}
