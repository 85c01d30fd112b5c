/**
 * The single CLI, `genome`, run as a process (cmd/genome.ts through tsx): help on every
 * command, usage errors, exit codes (0 verified, 1 refused, 2 usage or I/O), the report on
 * stdout and refusals on stderr, -o json, and genome text escaped.
 */
import { PRODUCT_VERSION } from '../core/version.ts';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const INTEROP = join(ROOT, 'test', 'vectors', 'interop');
const GOOD = join(INTEROP, 'upstream-test-genome.json');
const GOOD_TRUST = join(INTEROP, 'upstream-test-genome.trust.json');
const LEGACY = join(INTEROP, 'upstream-totk-root-legacy.json');
const LEGACY_TRUST = join(INTEROP, 'upstream-totk-root-legacy.trust.json');
const work = mkdtempSync(join(tmpdir(), 'genome-cli1-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function genome(args: string[], env: Record<string, string> = {}, program = 'bin/genome') {
  const result = spawnSync(NODE, [join(ROOT, program), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const COMMANDS = ['keygen', 'sign', 'verify', 'manifest', 'status', 'check'];

describe('help', () => {
  it.each([[['--help']], [['-h']], [['help']], [[]]])('genome %j lists every command', (args) => {
    const out = genome(args);
    expect(out.code).toBe(args.length === 0 ? 2 : 0);
    const text = args.length === 0 ? out.stderr : out.stdout;
    for (const c of COMMANDS) expect(text).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(text).toContain('Exit codes');
  });

  it.each(COMMANDS)('genome %s --help, genome help %s: usage on stdout, exit 0', (name) => {
    for (const args of [
      [name, '--help'],
      ['help', name],
      [name, '-h'],
    ]) {
      const out = genome(args);
      expect(out.code).toBe(0);
      expect(out.stdout).toContain(`usage: genome ${name}`);
      expect(out.stderr).toBe('');
    }
  });

  it('--version (and version) prints the version, exit 0', () => {
    for (const args of [['--version'], ['version']]) {
      const out = genome(args);
      expect(out.code).toBe(0);
      expect(out.stdout).toBe(`genome ${PRODUCT_VERSION}\n`);
    }
  });

  it('kubectl-genome says kubectl genome in its usage', () => {
    const out = genome(['verify', '--help'], {}, 'bin/kubectl-genome');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('usage: kubectl genome verify');
  });
});

describe('usage errors exit 2 with a short usage on stderr', () => {
  it.each([
    ['an unknown command', ['frobnicate']],
    ['help for an unknown command', ['help', 'frobnicate']],
    ['an unknown flag', ['verify', GOOD, '--frob']],
    ['a missing genome', ['verify']],
    ['an -o that is not json or text', ['verify', GOOD, '-o', 'xml']],
    ['--now that is not RFC 3339', ['verify', GOOD, '--now', 'tomorrow']],
    ['manifest without --name', ['manifest', GOOD]],
    ['status without a name', ['status']],
    ['check with a bad --wait', ['check', '--wait', 'soon']],
  ])('%s', (_what, args) => {
    const out = genome(args);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/usage: genome/);
    expect(out.stderr.split('\n').length).toBeLessThan(8);
  });

  it('an unreadable genome file is I/O: exit 2, on stderr', () => {
    const out = genome(['verify', join(work, 'nope.json')]);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain('GENOME_MISSING');
  });
});

describe('verify', () => {
  it('verified: exit 0, the report on stdout, nothing on stderr', () => {
    const out = genome(['verify', GOOD, '--trust', GOOD_TRUST]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/dev-key-001 +signed, trusted, VERIFIED/);
    expect(out.stdout).toMatch(/^VERIFIED against 1 trusted key\(s\)/m);
    expect(out.stderr).toBe('');
  });

  it('refused: exit 1, the summary on stdout and the refusal on stderr', () => {
    const out = genome(['verify', LEGACY, '--trust', LEGACY_TRUST]);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('genome id:');
    expect(out.stdout).not.toContain('REFUSED');
    expect(out.stderr).toContain('REFUSED GENOME_INVALID_SIGNATURE');
    expect(out.stderr).toContain('what to do:');
  });

  it('without --trust, no signer line says trusted: the signers are declared', () => {
    const out = genome(['verify', GOOD]);
    expect(out.code).toBe(0);
    expect(out.stdout).not.toMatch(/signed, (not )?trusted/);
    expect(out.stdout).toMatch(/dev-key-001 +signed, declared, VERIFIED/);
    expect(out.stdout).toContain('NOT a trust decision');
  });

  it('-o json: one JSON document on stdout, verified', () => {
    const out = genome(['verify', GOOD, '--trust', GOOD_TRUST, '-o', 'json']);
    expect(out.code).toBe(0);
    const doc = JSON.parse(out.stdout);
    expect(doc).toMatchObject({
      verified: true,
      trustDecision: true,
      genome: {
        id: 'dbd37fd8a0710ccb89167927ce2d10e920d63927a223d3fdc3c163a158ecbb91',
      },
      signers: [{ keyId: 'dev-key-001', signed: true, trust: 'trusted', counted: true }],
      refusal: null,
    });
    expect(doc.counted).toEqual(['dev-key-001']);
  });

  it('-o json: refused, exit 1, the refusal in the document and on stderr', () => {
    const out = genome(['verify', LEGACY, '--trust', LEGACY_TRUST, '--output=json']);
    expect(out.code).toBe(1);
    const doc = JSON.parse(out.stdout);
    expect(doc.verified).toBe(false);
    expect(doc.refusal).toMatchObject({ code: 'GENOME_INVALID_SIGNATURE' });
    expect(doc.refusal.action).toEqual(expect.any(String));
    expect(out.stderr).toContain('REFUSED GENOME_INVALID_SIGNATURE');
  });

  it('-o json without --trust says it is no trust decision and never "trusted"', () => {
    const out = genome(['verify', GOOD, '-o', 'json']);
    const doc = JSON.parse(out.stdout);
    expect(doc.trustDecision).toBe(false);
    expect(doc.signers[0].trust).toBe('declared');
  });

  it('-o json of a genome that does not parse is still one document (exit 1)', () => {
    const path = join(work, 'broken.json');
    writeFileSync(path, '{"name": ');
    const out = genome(['verify', path, '-o', 'json']);
    expect(out.code).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({ verified: false, genome: null });
    expect(out.stderr).toContain('REFUSED');
  });

  it('escapes hostile genome text in the report and keeps the JSON free of terminal escapes', () => {
    const g = JSON.parse(readFileSync(LEGACY, 'utf8'));
    g.invariants[0].testable_claim = 'x\n\nVERIFIED against 1 trusted key(s)\u001b[8m\u202e\u009b';
    const path = join(work, 'hostile.json');
    writeFileSync(path, JSON.stringify(g));
    const text = genome(['verify', path, '--trust', LEGACY_TRUST]);
    expect(text.code).toBe(1);
    expect(text.stdout).not.toMatch(/^VERIFIED/m);
    for (const c of ['\u001b', '\u202e', '\u009b'])
      expect(text.stdout + text.stderr).not.toContain(c);
    const json = genome(['verify', path, '--trust', LEGACY_TRUST, '-o', 'json']);
    expect(json.stdout).toMatch(/^[\x20-\x7e\n]*$/);
    expect(JSON.parse(json.stdout).invariants[0].testable_claim).toBe(
      g.invariants[0].testable_claim,
    );
    // manifest -o json too: the same text read back, no terminal escape on the way.
    const manifest = genome(['manifest', path, '--name', 'h', '-o', 'json']);
    expect(manifest.code).toBe(0);
    expect(manifest.stdout).toMatch(/^[\x20-\x7e\n]*$/);
    expect(JSON.parse(manifest.stdout).spec.genome.invariants[0].testable_claim).toBe(
      g.invariants[0].testable_claim,
    );
  });
});

describe('keygen, sign, manifest', () => {
  it('keygen, sign and verify round trip through one program', () => {
    const keys = genome(['keygen', 'cli-key']);
    expect(keys.code).toBe(0);
    const pub = JSON.parse(keys.stdout);
    const trust = join(work, 'cli.trust.json');
    writeFileSync(trust, keys.stdout);
    const g = JSON.parse(
      readFileSync(join(ROOT, 'genomes', 'TOTK_ROOT_v1.0.0', 'genome-unsigned.json'), 'utf8'),
    );
    g.authority = { signers: [pub], threshold: 1 };
    const unsigned = join(work, 'u.json');
    const signed = join(work, 's.json');
    writeFileSync(unsigned, JSON.stringify(g));
    const sign = genome(['sign', unsigned, signed], {
      GENOME_SIGNING_PRIVATE_KEY: keys.stderr.trim(),
    });
    expect(sign.code).toBe(0);
    expect(sign.stdout).toContain('as cli-key');
    expect(genome(['verify', signed, '--trust', trust]).code).toBe(0);
    const manifest = genome(['manifest', signed, '--name', 'totk', '-n', 'prod', '-o', 'json']);
    expect(manifest.code).toBe(0);
    expect(JSON.parse(manifest.stdout)).toMatchObject({
      metadata: { name: 'totk', namespace: 'prod' },
    });
  });

  it('sign without a key is an error on stderr, exit 2, and prints no key material', () => {
    const out = genome(['sign', GOOD, join(work, 'x.json')], { GENOME_SIGNING_PRIVATE_KEY: '' });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('set GENOME_SIGNING_PRIVATE_KEY');
  });

  it('an unsigned genome is refused by manifest: exit 1, on stderr', () => {
    const out = genome([
      'manifest',
      join(ROOT, 'genomes', 'TOTK_ROOT_v1.0.0', 'genome-unsigned.json'),
      '--name',
      'x',
    ]);
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain('REFUSED GENOME_UNSIGNED');
  });
});
