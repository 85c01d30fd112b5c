import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { genomeId } from '../core/canonical.ts';
import { genome, keyPair, signedBy, withFields } from '../test/builders/index.ts';

const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const work = mkdtempSync(join(tmpdir(), 'genome-boot-check-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const signer = keyPair('team-key');
const signed = genome(signedBy(signer));
const trust = [{ key_id: signer.keyId, alg: 'ed25519', public_key: signer.publicKey }];

/** Writes a mounted-ConfigMap directory and runs the init container's entry against it. */
function bootCheck(files: Record<string, string>, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(work, 'mount-'));
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const result = spawnSync(TSX, [join(ROOT, 'cmd', 'genome-boot-check.ts')], {
    encoding: 'utf8',
    env: { ...process.env, MATHISON_GENOME_PATH: join(dir, 'genome.json'), ...env },
  });
  return { code: result.status, out: result.stdout + result.stderr };
}

const published = {
  'genome.json': JSON.stringify(signed, null, 2),
  'trusted-keys.json': JSON.stringify(trust),
};

describe('genome-boot-check (the init container)', () => {
  it('exits 0 and names the genome id when the mounted genome verifies and is the admitted one', () => {
    const result = bootCheck(published, { GENOME_EXPECTED_ID: genomeId(signed) });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({
      genomeId: genomeId(signed),
      signers: ['team-key'],
    });
  });

  it.each([
    [
      'a changed genome file',
      { 'genome.json': JSON.stringify({ ...signed, name: 'EVIL' }) },
      {},
      'GENOME_INVALID_SIGNATURE',
    ],
    ['no trusted keys beside it', { 'trusted-keys.json': undefined }, {}, 'TRUST_FILE_MISSING'],
    ['no genome', { 'genome.json': undefined }, {}, 'GENOME_MISSING'],
    [
      'another genome than the admitted one',
      {},
      { GENOME_EXPECTED_ID: 'a'.repeat(64) },
      'GENOME_ID_MISMATCH',
    ],
  ])('exits 1 with the code on %s', (_what, change, env, code) => {
    const files = Object.fromEntries(
      Object.entries({ ...published, ...change }).filter(([, text]) => text !== undefined),
    ) as Record<string, string>;
    const result = bootCheck(files, env);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toMatchObject({ msg: 'genome refused', code });
  });
});

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const APP_FILE = 'export const governance = 1;\n';

/** A genome pinning two files, and an image root holding them (one changed when `change`). */
function pinned(change?: 'differs' | 'missing') {
  const pinnedGenome = genome(
    signedBy(signer),
    withFields({
      build_manifest: {
        files: [
          { path: 'packages/gov/index.js', sha256: sha(APP_FILE) },
          { path: 'packages/gov/other.js', sha256: sha('other\n') },
        ],
      },
    }),
  );
  const root = mkdtempSync(join(work, 'image-'));
  mkdirSync(join(root, 'app', 'packages', 'gov'), { recursive: true });
  if (change !== 'missing')
    writeFileSync(join(root, 'app', 'packages', 'gov', 'index.js'), APP_FILE);
  const other = change === 'differs' ? 'other, changed\n' : 'other\n';
  writeFileSync(join(root, 'app', 'packages', 'gov', 'other.js'), other);
  const termination = join(root, 'termination-log');
  writeFileSync(termination, '');
  const checks = [
    { container: 'app', image: 'mathison:bad\u001b[2J', root: join(root, 'app'), production: true },
  ];
  const env = {
    GENOME_MANIFEST_CHECKS: JSON.stringify(checks),
    GENOME_TERMINATION_MESSAGE_PATH: termination,
  };
  const files = { ...published, 'genome.json': JSON.stringify(pinnedGenome) };
  return { files, env, termination };
}

describe('genome-boot-check verifies the build manifest against the application image', () => {
  it('exits 0 and says how many files it checked when the image holds what the genome pins', () => {
    const { files, env } = pinned();
    const result = bootCheck(files, env);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({
      msg: 'genome verified',
      manifest: [{ container: 'app', checked: 2 }],
    });
  });

  it('exits 1 on a file that differs, the code, path, both short hashes and image in its termination message', () => {
    const { files, env, termination } = pinned('differs');
    const result = bootCheck(files, env);
    expect(result.code).toBe(1);
    const message = readFileSync(termination, 'utf8');
    expect(JSON.parse(message)).toMatchObject({
      msg: 'build manifest refused',
      code: 'GENOME_MANIFEST_MISMATCH',
      container: 'app',
      path: 'packages/gov/other.js',
      expected: sha('other\n').slice(0, 12),
      actual: sha('other, changed\n').slice(0, 12),
    });
    expect(message).toContain('mathison:bad');
    expect(message).not.toContain('\u001b');
    expect(JSON.parse(result.out)).toMatchObject({ code: 'GENOME_MANIFEST_MISMATCH' });
  });

  it('exits 1 with GENOME_MANIFEST_FILE_MISSING on a missing file', () => {
    const { files, env, termination } = pinned('missing');
    expect(bootCheck(files, env).code).toBe(1);
    expect(JSON.parse(readFileSync(termination, 'utf8'))).toMatchObject({
      code: 'GENOME_MANIFEST_FILE_MISSING',
      path: 'packages/gov/index.js',
    });
  });

  it('writes a refused genome to the termination message too, and checks no image then', () => {
    const { env, termination } = pinned('differs');
    const result = bootCheck({ ...published, 'genome.json': '{' }, env);
    expect(result.code).toBe(1);
    expect(JSON.parse(readFileSync(termination, 'utf8'))).toMatchObject({
      msg: 'genome refused',
      code: 'GENOME_UNREADABLE',
    });
  });

  it('refuses checks it cannot read (fail closed)', () => {
    const { files, env } = pinned();
    const result = bootCheck(files, { ...env, GENOME_MANIFEST_CHECKS: '[{"root": 1}]' });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toMatchObject({ code: 'GENOME_VERIFY_ERROR' });
  });
});
