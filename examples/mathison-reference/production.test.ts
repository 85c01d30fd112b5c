/**
 * The reference Mathison container's program run directly (tsx, no pod) in production mode, as
 * upstream's server boots: the genome's build manifest is checked under MATHISON_REPO_ROOT (else
 * the working directory) before it serves, a missing file or a changed one keeps it from
 * starting (one JSON line on stderr with the code and the path, exit 1), and /health reports
 * manifestVerified and manifestFiles. In development the manifest is not checked.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Genome } from '../../core/genome.ts';
import { genome, keyPair, signedBy, withFields } from '../../test/builders/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const work = mkdtempSync(join(tmpdir(), 'mathison-production-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const GOVERNANCE = 'export const governed = true;\n';
const HEALTH = 'export const health = "ok";\r\n';
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

const signer = keyPair('team-key');
const pinned = (files: { path: string; sha256: string }[]): Genome =>
  genome(signedBy(signer), withFields({ build_manifest: { files } }));
const manifest = [
  { path: 'packages/gov/src/governance.ts', sha256: sha256(GOVERNANCE) },
  { path: 'packages/gov/src/health.ts', sha256: sha256(HEALTH) },
];

/** Writes `files` (root-relative path → content) under a fresh directory; returns it. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(work, 'root-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** The image's built tree: what production checks for the manifest's src/*.ts entries. */
const built = {
  'packages/gov/dist/governance.js': GOVERNANCE,
  'packages/gov/dist/health.js': HEALTH,
};

interface Run {
  /** The exit code, or undefined when it was still serving (then it was stopped). */
  code: number | null | undefined;
  stdout: string;
  stderr: string;
  /** /health's status and body while it served. */
  health?: { status: number; body: Record<string, unknown> };
}

/**
 * Publishes `g` with its signer trusted, runs the reference program with `env` (and `cwd`),
 * and waits for it to exit or to log that it is ready (then reads /health and stops it).
 */
async function run(g: Genome, env: Record<string, string>, cwd = work): Promise<Run> {
  const dir = mkdtempSync(join(work, 'genome-'));
  writeFileSync(join(dir, 'genome.json'), JSON.stringify(g));
  const trust = [{ key_id: signer.keyId, alg: 'ed25519', public_key: signer.publicKey }];
  writeFileSync(join(dir, 'trusted-keys.json'), JSON.stringify(trust));
  const base = { ...process.env };
  for (const name of ['MATHISON_ENV', 'MATHISON_VERIFY_MANIFEST', 'MATHISON_USE_DIST'])
    delete base[name];
  delete base.MATHISON_REPO_ROOT;
  const child = spawn(TSX, [join(import.meta.dirname, 'main.ts')], {
    cwd,
    env: {
      ...base,
      MATHISON_GENOME_PATH: join(dir, 'genome.json'),
      PORT: '0',
      MATHISON_REFUSED_LINGER_MS: '0',
      ...env,
    },
  });
  const out: Run = { code: undefined, stdout: '', stderr: '' };
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const ready = new Promise<number>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      out.stdout += d.toString();
      const line = out.stdout.split('\n').find((l) => l.includes('"mathison ready"'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    }),
  );
  const first = await Promise.race([
    exited.then((code) => ({ code })),
    ready.then((port) => ({ port })),
  ]);
  if ('code' in first) return { ...out, code: first.code };
  const response = await fetch(`http://127.0.0.1:${first.port}/health`);
  out.health = {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
  };
  child.kill('SIGTERM');
  await exited;
  return out;
}

/** The one JSON line a refused start writes on stderr. */
function refusalOf(result: Run): Record<string, unknown> {
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

const PRODUCTION = { MATHISON_ENV: 'production' };

describe('the reference container in production mode, run directly', () => {
  it('boots on a root that holds the built files the genome pins; /health as upstream', async () => {
    const result = await run(pinned(manifest), { ...PRODUCTION, MATHISON_REPO_ROOT: tree(built) });
    expect(result.code).toBeUndefined();
    expect(result.health?.status).toBe(200);
    expect(result.health?.body).toMatchObject({
      status: 'healthy',
      bootStatus: 'ready',
      governance: { genome: { verified: true, manifestVerified: true, manifestFiles: 2 } },
    });
  });

  it('checks the working directory when MATHISON_REPO_ROOT is not set', async () => {
    const result = await run(pinned(manifest), PRODUCTION, tree(built));
    expect(result.health?.body).toMatchObject({
      governance: { genome: { manifestVerified: true, manifestFiles: 2 } },
    });
    const elsewhere = await run(pinned(manifest), PRODUCTION, tree({}));
    expect(elsewhere.code).toBe(1);
    expect(refusalOf(elsewhere)).toMatchObject({ code: 'GENOME_MANIFEST_FILE_MISSING' });
  });

  it('refuses to start when a pinned file differs: code, path and both short hashes', async () => {
    const changed = { ...built, 'packages/gov/dist/health.js': 'export const health = "evil";\n' };
    const result = await run(pinned(manifest), {
      ...PRODUCTION,
      MATHISON_REPO_ROOT: tree(changed),
    });
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('mathison ready');
    const refusal = refusalOf(result);
    expect(refusal).toMatchObject({
      msg: 'refusing to start',
      code: 'GENOME_MANIFEST_MISMATCH',
      path: 'packages/gov/dist/health.js',
    });
    expect(refusal.reason).toContain(sha256(HEALTH).slice(0, 12));
    expect(refusal.reason).toContain(sha256('export const health = "evil";\n').slice(0, 12));
  });

  it('refuses to start when a pinned file is missing', async () => {
    const result = await run(pinned(manifest), {
      ...PRODUCTION,
      MATHISON_REPO_ROOT: tree({ 'packages/gov/dist/governance.js': GOVERNANCE }),
    });
    expect(result.code).toBe(1);
    expect(refusalOf(result)).toMatchObject({
      code: 'GENOME_MANIFEST_FILE_MISSING',
      path: 'packages/gov/dist/health.js',
    });
  });

  it('refuses a placeholder hash in production, and a path that leaves the root', async () => {
    const placeholder = [...manifest, { path: 'packages/gov/src/x.ts', sha256: 'placeholder' }];
    const root = tree(built);
    const held = await run(pinned(placeholder), { ...PRODUCTION, MATHISON_REPO_ROOT: root });
    expect(held.code).toBe(1);
    expect(refusalOf(held)).toMatchObject({ code: 'GENOME_MANIFEST_PLACEHOLDER' });
    const escape = [{ path: '../\u202eoutside\u001b[31m.js', sha256: sha256(GOVERNANCE) }];
    const out = await run(pinned(escape), { ...PRODUCTION, MATHISON_REPO_ROOT: root });
    expect(out.code).toBe(1);
    expect(refusalOf(out)).toMatchObject({ code: 'GENOME_MANIFEST_PATH_INVALID' });
    for (const raw of ['\u001b', '\u202e']) expect(out.stderr).not.toContain(raw);
  });

  it('MATHISON_VERIFY_MANIFEST=true checks the sources as listed (development rules)', async () => {
    const sources = {
      'packages/gov/src/governance.ts': GOVERNANCE,
      'packages/gov/src/health.ts': HEALTH,
    };
    const env = { MATHISON_VERIFY_MANIFEST: 'true', MATHISON_REPO_ROOT: tree(sources) };
    const result = await run(pinned(manifest), env);
    expect(result.health?.body).toMatchObject({
      governance: { genome: { manifestVerified: true, manifestFiles: 2 } },
    });
    const builtOnly = await run(pinned(manifest), { ...env, MATHISON_REPO_ROOT: tree(built) });
    expect(refusalOf(builtOnly)).toMatchObject({ code: 'GENOME_MANIFEST_FILE_MISSING' });
  });

  it('development mode is unaffected: no check, manifestVerified false', async () => {
    const result = await run(pinned(manifest), { MATHISON_REPO_ROOT: tree({}) });
    expect(result.health?.status).toBe(200);
    expect(result.health?.body).toMatchObject({
      governance: { genome: { verified: true, manifestVerified: false, manifestFiles: 2 } },
    });
  });
});
