import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  fileDigestUnder,
  fillBuildManifest,
  MAX_MANIFEST_FILE_BYTES,
  verifyBuildManifestAt,
} from './build-manifest-fs.ts';
import { CliRefusal } from './io.ts';

const sha = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const DEV = { production: false };
const PROD = { production: true };

let base: string;
let root: string;

function put(path: string, content: Buffer | string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), content);
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'build-manifest-'));
  root = join(base, 'root');
  mkdirSync(root);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('fileDigestUnder', () => {
  it('hashes the raw bytes (CRLF, a BOM and non-UTF-8 bytes as they are)', () => {
    const bytes = Buffer.from([0xef, 0xbb, 0xbf, 0x61, 0x0d, 0x0a, 0xff, 0xfe, 0x00]);
    put('a/raw.ts', bytes);
    expect(fileDigestUnder(root, 'a/raw.ts')).toEqual({ kind: 'file', sha256: sha(bytes) });
  });

  it('reports a missing file, and a file under a file, as missing', () => {
    put('a.ts', 'a');
    expect(fileDigestUnder(root, 'nope.ts')).toEqual({ kind: 'missing' });
    expect(fileDigestUnder(root, 'a.ts/b.ts')).toEqual({ kind: 'missing' });
  });

  it('refuses a symlink that leaves the root, and one to a directory outside', () => {
    writeFileSync(join(base, 'secret'), 'outside');
    symlinkSync(join(base, 'secret'), join(root, 'abs-link.ts'));
    symlinkSync('../secret', join(root, 'rel-link.ts'));
    symlinkSync(base, join(root, 'dir-link'));
    for (const path of ['abs-link.ts', 'rel-link.ts', 'dir-link/secret']) {
      expect(fileDigestUnder(root, path), path).toEqual({
        kind: 'invalid',
        why: 'leaves the root through a symlink',
      });
    }
  });

  it('follows a symlink that stays inside the root (an image layer may link files)', () => {
    put('real/a.ts', 'a');
    symlinkSync('real', join(root, 'alias'));
    symlinkSync('a.ts', join(root, 'real', 'b.ts'));
    expect(fileDigestUnder(root, 'alias/a.ts')).toEqual({ kind: 'file', sha256: sha('a') });
    expect(fileDigestUnder(root, 'real/b.ts')).toEqual({ kind: 'file', sha256: sha('a') });
  });

  it('works when the root itself is reached through a symlink', () => {
    put('a.ts', 'a');
    symlinkSync(root, join(base, 'root-link'));
    expect(fileDigestUnder(join(base, 'root-link'), 'a.ts')).toMatchObject({ kind: 'file' });
  });

  it('refuses a link to the root itself and a dangling link is missing', () => {
    symlinkSync('.', join(root, 'self'));
    symlinkSync('nowhere', join(root, 'dangling.ts'));
    expect(fileDigestUnder(root, 'self')).toMatchObject({ kind: 'invalid' });
    expect(fileDigestUnder(root, 'dangling.ts')).toEqual({ kind: 'missing' });
  });

  it('refuses a directory', () => {
    mkdirSync(join(root, 'dir.ts'));
    expect(fileDigestUnder(root, 'dir.ts')).toEqual({
      kind: 'invalid',
      why: 'is not a regular file',
    });
  });

  it('refuses a FIFO without blocking on it', () => {
    execFileSync('mkfifo', [join(root, 'pipe.ts')]);
    const started = Date.now();
    expect(fileDigestUnder(root, 'pipe.ts')).toEqual({
      kind: 'invalid',
      why: 'is not a regular file',
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a file over the size bound without reading it', () => {
    writeFileSync(join(root, 'big.js'), '');
    execFileSync('truncate', ['-s', String(MAX_MANIFEST_FILE_BYTES + 1), join(root, 'big.js')]);
    expect(fileDigestUnder(root, 'big.js')).toMatchObject({ kind: 'invalid' });
  });

  it('refuses a root that does not exist', () => {
    expect(fileDigestUnder(join(base, 'none'), 'a.ts')).toMatchObject({ kind: 'invalid' });
  });
});

describe('verifyBuildManifestAt', () => {
  it('verifies, then refuses a changed byte with both hashes', () => {
    put('pkg/src/cif.ts', 'export const x = 1;\n');
    const files = [{ path: 'pkg/src/cif.ts', sha256: sha('export const x = 1;\n') }];
    expect(verifyBuildManifestAt(files, root, DEV)).toEqual({ ok: true, checked: 1, skipped: 0 });
    put('pkg/src/cif.ts', 'export const x = 2;\n');
    expect(verifyBuildManifestAt(files, root, DEV)).toMatchObject({
      ok: false,
      refusal: { code: 'GENOME_MANIFEST_MISMATCH' },
      path: 'pkg/src/cif.ts',
      actual: sha('export const x = 2;\n'),
    });
  });

  it('refuses a symlink out of the root as an invalid path', () => {
    writeFileSync(join(base, 'secret'), 'x');
    symlinkSync('../secret', join(root, 'a.ts'));
    const result = verifyBuildManifestAt([{ path: 'a.ts', sha256: sha('x') }], root, DEV);
    expect(result.ok || result.refusal.code).toBe('GENOME_MANIFEST_PATH_INVALID');
  });

  it('checks the dist file in production', () => {
    put('pkg/dist/cif.js', 'built');
    const files = [{ path: 'pkg/src/cif.ts', sha256: sha('built') }];
    expect(verifyBuildManifestAt(files, root, PROD)).toMatchObject({ ok: true, checked: 1 });
  });
});

describe('fillBuildManifest', () => {
  it('fills every listed hash (placeholders too), keeping the listed paths', () => {
    put('pkg/src/a.ts', 'a');
    put('pkg/dist/a.js', 'built a');
    const files = [{ path: 'pkg/src/a.ts', sha256: 'placeholder-will-compute-in-production' }];
    expect(fillBuildManifest(files, root, DEV)).toEqual([
      { path: 'pkg/src/a.ts', sha256: sha('a') },
    ]);
    expect(fillBuildManifest(files, root, PROD)).toEqual([
      { path: 'pkg/src/a.ts', sha256: sha('built a') },
    ]);
    expect(files[0]?.sha256).toBe('placeholder-will-compute-in-production');
  });

  it('refuses a missing file and a path that leaves the root', () => {
    const missing = () => fillBuildManifest([{ path: 'gone.ts', sha256: 'x' }], root, DEV);
    expect(missing).toThrow(CliRefusal);
    expect(missing).toThrow(/gone\.ts is missing/);
    const escape = () => fillBuildManifest([{ path: '../x.ts', sha256: 'x' }], root, DEV);
    expect(escape).toThrow(/\.\. segment/);
  });
});
