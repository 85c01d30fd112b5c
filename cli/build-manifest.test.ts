/**
 * `genome build-manifest` and `genome verify --manifest-root` run as processes: the manifest
 * filled from a root (upstream's genome-build-manifest), signed, then checked against the same
 * root, a changed one, a missing file; production rules (src→dist, placeholders); path escapes;
 * usage errors; -o json; and the seed's scripts/genome-build-manifest.ts.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Genome } from '../core/genome.ts';
import { genome as makeGenome, keyPair, signWith, withFields } from '../test/builders/index.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const work = mkdtempSync(join(tmpdir(), 'genome-build-manifest-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const key = keyPair('bm-key');
const trust = join(work, 'bm.trust.json');
const PLACEHOLDER = 'placeholder-will-compute-in-production';
const CIF = 'packages/gov/src/cif.ts';
const CDI = 'packages/gov/src/cdi.ts';

function genomeCli(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(NODE, [join(ROOT, 'bin/genome'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, MATHISON_REPO_ROOT: '', ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A fresh root holding the governance files, source and built. */
function makeRoot(name: string): string {
  const root = join(work, name);
  for (const [path, content] of [
    [CIF, 'export const cif = 1;\n'],
    [CDI, 'export const cdi = 1;\n'],
    ['packages/gov/dist/cif.js', 'exports.cif = 1;\n'],
    ['packages/gov/dist/cdi.js', 'exports.cdi = 1;\n'],
  ] as const) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

/** An unsigned genome of `key` pinning these files, written to `name`. */
function unsignedFile(name: string, files: { path: string; sha256: string }[]): string {
  const g = makeGenome(withFields({ build_manifest: { files } }));
  const declared = {
    ...g,
    authority: {
      signers: [{ key_id: key.keyId, alg: 'ed25519', public_key: key.publicKey }],
      threshold: 1,
    },
  };
  const path = join(work, name);
  writeFileSync(path, JSON.stringify(declared, null, 2));
  return path;
}

/** Signs a genome file in place (as genome sign would) and returns its path. */
function signFile(path: string): string {
  const g = JSON.parse(readFileSync(path, 'utf8')) as Genome;
  writeFileSync(path, JSON.stringify(signWith(g, key), null, 2));
  return path;
}

const placeholders = () => [
  { path: CIF, sha256: PLACEHOLDER },
  { path: CDI, sha256: PLACEHOLDER },
];

beforeAll(() => {
  writeFileSync(
    trust,
    JSON.stringify({ key_id: key.keyId, alg: 'ed25519', public_key: key.publicKey }),
  );
});

describe('genome build-manifest', () => {
  it('fills the listed hashes from --root (raw bytes), keeps the paths, exit 0', () => {
    const root = makeRoot('fill');
    const input = unsignedFile('fill.json', placeholders());
    const out = join(work, 'fill.out.json');
    const run = genomeCli(['build-manifest', input, out, '--root', root]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(CIF);
    expect(run.stdout).toContain('genome sign');
    const filled = JSON.parse(readFileSync(out, 'utf8')) as Genome;
    expect(filled.build_manifest.files).toEqual([
      { path: CIF, sha256: sha('export const cif = 1;\n') },
      { path: CDI, sha256: sha('export const cdi = 1;\n') },
    ]);
    // The input is left as it was when an output is named.
    expect(readFileSync(input, 'utf8')).toContain(PLACEHOLDER);
  });

  it('with --production hashes the built dist/*.js of each listed src/*.ts', () => {
    const root = makeRoot('fill-prod');
    const input = unsignedFile('fill-prod.json', placeholders());
    expect(genomeCli(['build-manifest', input, '--root', root, '--production']).code).toBe(0);
    const filled = JSON.parse(readFileSync(input, 'utf8')) as Genome;
    expect(filled.build_manifest.files[0]).toEqual({
      path: CIF,
      sha256: sha('exports.cif = 1;\n'),
    });
  });

  it("drops a signature the new hashes break, as upstream's script does", () => {
    const root = makeRoot('fill-signed');
    const input = signFile(unsignedFile('fill-signed.json', placeholders()));
    const run = genomeCli(['build-manifest', input, '--root', root]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/signature.*removed/i);
    const filled = JSON.parse(readFileSync(input, 'utf8')) as Genome;
    expect(filled.signature).toBeUndefined();
    expect(filled.signatures).toBeUndefined();
  });

  it("accepts upstream's form: a genome directory, --dist and MATHISON_REPO_ROOT", () => {
    const root = makeRoot('fill-upstream');
    const dir = join(work, 'GENOME_DIR');
    mkdirSync(dir);
    writeFileSync(join(dir, 'genome.json'), readFileSync(unsignedFile('u.json', placeholders())));
    const run = genomeCli(['build-manifest', dir, '--dist'], { MATHISON_REPO_ROOT: root });
    expect(run.code).toBe(0);
    const filled = JSON.parse(readFileSync(join(dir, 'genome.json'), 'utf8')) as Genome;
    expect(filled.build_manifest.files[1]?.sha256).toBe(sha('exports.cdi = 1;\n'));
  });

  it('refuses a missing file (exit 1, the path, nothing written)', () => {
    const root = makeRoot('fill-missing');
    unlinkSync(join(root, CDI));
    const input = unsignedFile('fill-missing.json', placeholders());
    const before = readFileSync(input, 'utf8');
    const run = genomeCli(['build-manifest', input, '--root', root]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('REFUSED GENOME_MANIFEST_FILE_MISSING');
    expect(run.stderr).toContain(CDI);
    expect(readFileSync(input, 'utf8')).toBe(before);
  });

  it('refuses a path that leaves the root (exit 1)', () => {
    const root = makeRoot('fill-escape');
    const input = unsignedFile('fill-escape.json', [{ path: '../fill/x.ts', sha256: PLACEHOLDER }]);
    const run = genomeCli(['build-manifest', input, '--root', root]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('REFUSED GENOME_MANIFEST_PATH_INVALID');
  });

  it.each([
    ['no --root and no MATHISON_REPO_ROOT', (input: string) => [input]],
    ['a --root that is not a directory', (input: string) => [input, '--root', join(work, 'none')]],
    ['no genome', () => ['--root', work]],
  ])('is a usage error with %s (exit 2)', (_, args) => {
    const input = unsignedFile('usage.json', placeholders());
    const run = genomeCli(['build-manifest', ...args(input)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('usage: genome build-manifest');
  });

  it('runs as the seed script scripts/genome-build-manifest.ts', () => {
    const root = makeRoot('fill-seed');
    const input = unsignedFile('seed.json', placeholders());
    const result = spawnSync(
      TSX,
      [join(ROOT, 'scripts', 'genome-build-manifest.ts'), input, '--root', root],
      { encoding: 'utf8' },
    );
    expect(result.status).toBe(0);
    expect(JSON.parse(readFileSync(input, 'utf8')).build_manifest.files[0].sha256).toBe(
      sha('export const cif = 1;\n'),
    );
  });
});

describe('genome verify --manifest-root', () => {
  /** A genome signed after its manifest was filled from `root`. */
  function pinned(name: string, root: string, production = false): string {
    const input = unsignedFile(`${name}.json`, placeholders());
    const fill = genomeCli([
      'build-manifest',
      input,
      '--root',
      root,
      ...(production ? ['--production'] : []),
    ]);
    expect(fill.code).toBe(0);
    return signFile(input);
  }

  it('verifies the signature, then the manifest: exit 0, the files counted', () => {
    const root = makeRoot('v-ok');
    const g = pinned('v-ok', root);
    const run = genomeCli(['verify', g, '--trust', trust, '--manifest-root', root]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/manifest: +verified 2 file/);
    const json = genomeCli(['verify', g, '--trust', trust, '--manifest-root', root, '-o', 'json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      verified: true,
      manifest: { verified: true, production: false, checked: 2, skipped: 0 },
      refusal: null,
    });
  });

  it('refuses a changed file: exit 1, GENOME_MANIFEST_MISMATCH, the path and both short hashes', () => {
    const root = makeRoot('v-mismatch');
    const g = pinned('v-mismatch', root);
    writeFileSync(join(root, CDI), 'export const cdi = 2;\n');
    const run = genomeCli(['verify', g, '--trust', trust, '--manifest-root', root]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('REFUSED GENOME_MANIFEST_MISMATCH');
    expect(run.stderr).toContain(CDI);
    expect(run.stderr).toContain(sha('export const cdi = 1;\n').slice(0, 12));
    expect(run.stderr).toContain(sha('export const cdi = 2;\n').slice(0, 12));
    const json = genomeCli(['verify', g, '--trust', trust, '--manifest-root', root, '-o', 'json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      verified: false,
      manifest: {
        verified: false,
        path: CDI,
        expected: sha('export const cdi = 1;\n'),
        actual: sha('export const cdi = 2;\n'),
      },
      refusal: { code: 'GENOME_MANIFEST_MISMATCH' },
    });
  });

  it('refuses a missing file: exit 1, GENOME_MANIFEST_FILE_MISSING and the path', () => {
    const root = makeRoot('v-missing');
    const g = pinned('v-missing', root);
    unlinkSync(join(root, CIF));
    const run = genomeCli(['verify', g, '--trust', trust, '--manifest-root', root]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('REFUSED GENOME_MANIFEST_FILE_MISSING');
    expect(run.stderr).toContain(CIF);
  });

  it('with --production checks the dist files, and refuses a source-pinned genome', () => {
    const root = makeRoot('v-prod');
    const prod = pinned('v-prod', root, true);
    expect(
      genomeCli(['verify', prod, '--trust', trust, '--manifest-root', root, '--production']).code,
    ).toBe(0);
    const dev = pinned('v-prod-src', root);
    const run = genomeCli([
      'verify',
      dev,
      '--trust',
      trust,
      '--manifest-root',
      root,
      '--production',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('packages/gov/dist/cif.js');
  });

  it('skips placeholder hashes in development, refuses them with --production', () => {
    const root = makeRoot('v-placeholder');
    const g = signFile(unsignedFile('v-placeholder.json', placeholders()));
    const dev = genomeCli(['verify', g, '--trust', trust, '--manifest-root', root, '-o', 'json']);
    expect(dev.code).toBe(0);
    expect(JSON.parse(dev.stdout).manifest).toMatchObject({
      verified: true,
      checked: 0,
      skipped: 2,
    });
    const prod = genomeCli([
      'verify',
      g,
      '--trust',
      trust,
      '--manifest-root',
      root,
      '--production',
    ]);
    expect(prod.code).toBe(1);
    expect(prod.stderr).toContain('REFUSED GENOME_MANIFEST_PLACEHOLDER');
  });

  it('refuses a pinned path that leaves the root', () => {
    const root = makeRoot('v-escape');
    const g = signFile(
      unsignedFile('v-escape.json', [{ path: '/etc/hostname', sha256: sha('x') }]),
    );
    const run = genomeCli(['verify', g, '--trust', trust, '--manifest-root', root]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('REFUSED GENOME_MANIFEST_PATH_INVALID');
  });

  it('does not check the manifest of a genome whose signature is refused', () => {
    const root = makeRoot('v-unsigned');
    const g = unsignedFile('v-unsigned.json', [{ path: CIF, sha256: sha('other') }]);
    const run = genomeCli(['verify', g, '--trust', trust, '--manifest-root', root, '-o', 'json']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('GENOME_UNSIGNED');
    const doc = JSON.parse(run.stdout);
    expect(doc.refusal.code).toBe('GENOME_UNSIGNED');
    expect(doc.manifest).toMatchObject({ verified: false, checked: null });
  });

  it.each([
    ['--production without --manifest-root', ['--production']],
    ['a --manifest-root that does not exist', ['--manifest-root', join(work, 'none')]],
    ['--manifest-root twice', ['--manifest-root', work, '--manifest-root', work]],
  ])('is a usage error with %s (exit 2)', (_, extra) => {
    const g = signFile(unsignedFile('v-usage.json', []));
    const run = genomeCli(['verify', g, '--trust', trust, ...extra]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('usage: genome verify');
  });

  it('passes an empty manifest, having checked nothing', () => {
    const g = signFile(unsignedFile('v-empty.json', []));
    const run = genomeCli(['verify', g, '--trust', trust, '--manifest-root', work]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/manifest: +verified 0 file/);
  });
});
