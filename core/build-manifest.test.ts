import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkBuildManifest,
  manifestCheckFromEnv,
  manifestTarget,
  type FileDigest,
  type ManifestEntry,
} from './build-manifest.ts';

const sha = (text: string) => createHash('sha256').update(Buffer.from(text)).digest('hex');
const DEV = { production: false };
const PROD = { production: true };

/** A fake root: path → content; anything else is missing. */
function tree(files: Record<string, string>): {
  digestOf: (p: string) => FileDigest;
  asked: string[];
} {
  const asked: string[] = [];
  return {
    asked,
    digestOf: (path) => {
      asked.push(path);
      const content = files[path];
      return content === undefined ? { kind: 'missing' } : { kind: 'file', sha256: sha(content) };
    },
  };
}

describe('checkBuildManifest (upstream loader verifyBuildManifest / integrity rules)', () => {
  it('verifies a valid manifest of several files, in order', () => {
    const root = tree({ 'a/one.ts': 'one', 'b/two.ts': 'two' });
    const files = [
      { path: 'a/one.ts', sha256: sha('one') },
      { path: 'b/two.ts', sha256: sha('two') },
    ];
    expect(checkBuildManifest(files, root.digestOf, DEV)).toEqual({
      ok: true,
      checked: 2,
      skipped: 0,
    });
    expect(root.asked).toEqual(['a/one.ts', 'b/two.ts']);
  });

  it('passes an empty manifest, having checked nothing (upstream: verified, no errors)', () => {
    expect(checkBuildManifest([], tree({}).digestOf, PROD)).toEqual({
      ok: true,
      checked: 0,
      skipped: 0,
    });
  });

  it('refuses a missing file with its own code and the path', () => {
    const result = checkBuildManifest(
      [{ path: 'pkg/src/gone.ts', sha256: sha('x') }],
      tree({}).digestOf,
      DEV,
    );
    expect(result).toMatchObject({ ok: false, path: 'pkg/src/gone.ts' });
    if (result.ok) throw new Error('unreachable');
    expect(result.refusal.code).toBe('GENOME_MANIFEST_FILE_MISSING');
    expect(result.refusal.message).toContain('pkg/src/gone.ts');
  });

  it('refuses a mismatch naming the path and both short hashes', () => {
    const expected = sha('pinned');
    const actual = sha('changed');
    const result = checkBuildManifest(
      [{ path: 'gov/cif.ts', sha256: expected }],
      tree({ 'gov/cif.ts': 'changed' }).digestOf,
      DEV,
    );
    expect(result).toEqual({
      ok: false,
      refusal: expect.objectContaining({ code: 'GENOME_MANIFEST_MISMATCH' }),
      path: 'gov/cif.ts',
      expected,
      actual,
    });
    if (result.ok) throw new Error('unreachable');
    expect(result.refusal.message).toContain(expected.slice(0, 12));
    expect(result.refusal.message).toContain(actual.slice(0, 12));
    expect(result.refusal.message).not.toContain(expected.slice(0, 13));
  });

  it('stops at the first failure among several files', () => {
    const root = tree({ 'a.ts': 'a', 'b.ts': 'b' });
    const result = checkBuildManifest(
      [
        { path: 'a.ts', sha256: sha('a') },
        { path: 'b.ts', sha256: sha('not b') },
        { path: 'c.ts', sha256: sha('c') },
      ],
      root.digestOf,
      DEV,
    );
    expect(result).toMatchObject({ ok: false, path: 'b.ts' });
    expect(root.asked).toEqual(['a.ts', 'b.ts']);
  });

  it('compares the hash exactly, as upstream does: an uppercase hex pin is a mismatch', () => {
    const result = checkBuildManifest(
      [{ path: 'a.ts', sha256: sha('a').toUpperCase() }],
      tree({ 'a.ts': 'a' }).digestOf,
      DEV,
    );
    expect(result.ok || result.refusal.code).toBe('GENOME_MANIFEST_MISMATCH');
  });

  it('refuses a file the fs side finds invalid (symlink out of the root, FIFO ...)', () => {
    const result = checkBuildManifest(
      [{ path: 'a.ts', sha256: sha('a') }],
      () => ({ kind: 'invalid', why: 'it is a FIFO, not a regular file' }),
      DEV,
    );
    expect(result.ok || result.refusal.code).toBe('GENOME_MANIFEST_PATH_INVALID');
    expect(result.ok || result.refusal.message).toContain('FIFO');
  });

  it('escapes a hostile path and pinned hash in the message', () => {
    const result = checkBuildManifest(
      [{ path: 'a\u202e.ts', sha256: 'ab\u001b[31m' }],
      tree({ 'a\u202e.ts': 'a' }).digestOf,
      DEV,
    );
    expect(result.ok).toBe(false);
    if (result.ok) throw new Error('unreachable');
    expect(result.refusal.message).not.toContain('\u202e');
    expect(result.refusal.message).not.toContain('\u001b');
  });

  describe('placeholder hashes', () => {
    const files = [
      { path: 'pkg/src/cif.ts', sha256: 'placeholder-will-compute-in-production' },
      { path: 'pkg/src/cdi.ts', sha256: sha('cdi') },
    ];
    it('skips them in development (upstream integrity, strict off), checking the rest', () => {
      const root = tree({ 'pkg/src/cdi.ts': 'cdi' });
      expect(checkBuildManifest(files, root.digestOf, DEV)).toEqual({
        ok: true,
        checked: 1,
        skipped: 1,
      });
      expect(root.asked).toEqual(['pkg/src/cdi.ts']);
    });
    it('refuses them in production, without reading the file', () => {
      const root = tree({ 'pkg/dist/cif.js': 'cif', 'pkg/dist/cdi.js': 'cdi' });
      const result = checkBuildManifest(files, root.digestOf, PROD);
      expect(result).toMatchObject({ ok: false, path: 'pkg/dist/cif.js' });
      expect(result.ok || result.refusal.code).toBe('GENOME_MANIFEST_PLACEHOLDER');
      expect(root.asked).toEqual([]);
    });
  });

  it('checks …/src/….ts as …/dist/….js in production', () => {
    const root = tree({ 'pkg/dist/index.js': 'built', 'pkg/src/index.ts': 'source' });
    const files: ManifestEntry[] = [{ path: 'pkg/src/index.ts', sha256: sha('built') }];
    expect(checkBuildManifest(files, root.digestOf, PROD)).toMatchObject({ ok: true, checked: 1 });
    expect(checkBuildManifest(files, root.digestOf, DEV).ok).toBe(false);
    expect(root.asked).toEqual(['pkg/dist/index.js', 'pkg/src/index.ts']);
  });

  it('says which listed path a production failure was checked as', () => {
    const result = checkBuildManifest(
      [{ path: 'pkg/src/index.ts', sha256: sha('x') }],
      tree({}).digestOf,
      PROD,
    );
    expect(result).toMatchObject({ ok: false, path: 'pkg/dist/index.js' });
    expect(result.ok || result.refusal.message).toContain('pkg/src/index.ts');
  });
});

describe('manifestTarget', () => {
  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    ['/etc/passwd', 'absolute'],
    ['../outside.ts', 'parent'],
    ['a/../../outside.ts', 'parent inside'],
    ['a/../b.ts', 'parent that stays inside (refused all the same)'],
    ['a/..', 'trailing parent'],
    ['a\u0000b.ts', 'NUL'],
    ['a\nb.ts', 'newline'],
    ['a\\..\\b.ts', 'backslash'],
    ['C:\\x.ts', 'drive'],
    ['.', 'the root itself'],
    ['./', 'the root itself, slashed'],
    ['a/'.repeat(3000), 'too long'],
  ])('refuses %j (%s) with GENOME_MANIFEST_PATH_INVALID', (path) => {
    const result = manifestTarget(path, DEV);
    expect(result.ok || result.refusal.code).toBe('GENOME_MANIFEST_PATH_INVALID');
    const checked = checkBuildManifest([{ path, sha256: sha('') }], tree({}).digestOf, PROD);
    expect(checked.ok || checked.refusal.code).toBe('GENOME_MANIFEST_PATH_INVALID');
  });

  it.each([
    ['a/b.ts', 'a/b.ts'],
    ['./a/b.ts', 'a/b.ts'],
    ['a//b.ts', 'a/b.ts'],
    ['a/./b.ts', 'a/b.ts'],
  ])('normalizes %j to %j', (path, expected) => {
    expect(manifestTarget(path, DEV)).toEqual({ ok: true, path: expected });
  });

  it.each([
    ['packages/x/src/index.ts', 'packages/x/dist/index.js'],
    ['packages/x/src/a/src/b.ts', 'packages/x/dist/a/src/b.js'],
    ['src/index.ts', 'src/index.ts'],
    ['packages/x/src/data.json', 'packages/x/src/data.json'],
    ['packages/x/lib/index.ts', 'packages/x/lib/index.ts'],
  ])('in production maps %j to %j (upstream: first /src/ only, .ts only)', (path, expected) => {
    expect(manifestTarget(path, PROD)).toEqual({ ok: true, path: expected });
    expect(manifestTarget(path, DEV)).toEqual({ ok: true, path });
  });
});

describe('manifestCheckFromEnv', () => {
  it.each([
    [{}, undefined],
    [{ MATHISON_ENV: 'development' }, undefined],
    [{ MATHISON_USE_DIST: 'true' }, undefined],
    [{ MATHISON_VERIFY_MANIFEST: 'TRUE' }, undefined],
    [{ MATHISON_VERIFY_MANIFEST: '1' }, undefined],
    [{ MATHISON_ENV: 'production' }, PROD],
    [{ MATHISON_ENV: 'Production' }, undefined],
    [{ MATHISON_VERIFY_MANIFEST: 'true' }, DEV],
    [{ MATHISON_VERIFY_MANIFEST: 'true', MATHISON_USE_DIST: 'true' }, PROD],
    [{ MATHISON_ENV: 'production', MATHISON_VERIFY_MANIFEST: 'false' }, PROD],
  ])('%j → %j', (env, expected) => {
    expect(manifestCheckFromEnv(env)).toEqual(expected);
  });
});
