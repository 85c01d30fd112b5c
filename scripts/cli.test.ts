import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';

const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const INTEROP = join(ROOT, 'test', 'vectors', 'interop');
const work = mkdtempSync(join(tmpdir(), 'genome-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(script: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(TSX, [join(ROOT, 'scripts', script), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return {
    code: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    all: result.stdout + result.stderr,
  };
}

function keygen(keyId: string) {
  const out = run('genome-keygen.ts', [keyId]);
  expect(out.code).toBe(0);
  const trustPath = join(work, `${keyId}.trust.json`);
  writeFileSync(trustPath, out.stdout);
  return {
    keyId,
    pub: JSON.parse(out.stdout) as { key_id: string; public_key: string },
    priv: out.stderr.trim(),
    trustPath,
  };
}

describe('genome-verify on upstream interop genomes', () => {
  it('verifies the upstream test genome and prints the published genome id', () => {
    const out = run('genome-verify.ts', [
      join(INTEROP, 'upstream-test-genome.json'),
      '--trust',
      join(INTEROP, 'upstream-test-genome.trust.json'),
    ]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(
      'dbd37fd8a0710ccb89167927ce2d10e920d63927a223d3fdc3c163a158ecbb91',
    );
    expect(out.stdout).toMatch(/dev-key-001 +signed, trusted, VERIFIED/);
  });

  it('refuses the legacy TOTK genome with the code, its meaning and what to do', () => {
    const out = run('genome-verify.ts', [
      join(INTEROP, 'upstream-totk-root-legacy.json'),
      '--trust',
      join(INTEROP, 'upstream-totk-root-legacy.trust.json'),
    ]);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('REFUSED GENOME_INVALID_SIGNATURE');
    expect(out.stdout).toContain('what to do:');
  });

  it('without --trust, checks the declared signers and says it is not a trust decision', () => {
    const out = run('genome-verify.ts', [join(INTEROP, 'upstream-test-genome.json')]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('NOT a trust decision');
  });
});

describe('keygen, sign and verify together', () => {
  const alice = keygen('alice-key');
  const bob = keygen('bob-key');
  const unsigned = join(work, 'unsigned.json');
  const genome = JSON.parse(
    readFileSync(join(ROOT, 'genomes', 'TOTK_ROOT_v1.0.0', 'genome-unsigned.json'), 'utf8'),
  );
  genome.authority = {
    signers: [alice.pub, bob.pub].map((p) => ({
      key_id: p.key_id,
      alg: 'ed25519',
      public_key: p.public_key,
    })),
    threshold: 2,
  };
  writeFileSync(unsigned, JSON.stringify(genome, null, 2));
  const once = join(work, 'signed-once.json');
  const twice = join(work, 'signed-twice.json');

  it('keygen prints a public key JSON on stdout and only the private key on stderr', () => {
    expect(alice.pub).toMatchObject({ key_id: 'alice-key', alg: 'ed25519' });
    expect(alice.pub.public_key).toMatch(/^MCowBQYDK2VwAyEA/);
    expect(alice.priv).toMatch(/^MC4CAQAwBQYDK2VwBCIEI/);
  });

  it('a key pair from keygen signs, and one trusted signer does not meet threshold 2', () => {
    const out = run('genome-sign.ts', [unsigned, once], { GENOME_SIGNING_PRIVATE_KEY: alice.priv });
    expect(out.code, out.all).toBe(0);
    expect(out.all).not.toContain(alice.priv);
    const verified = run('genome-verify.ts', [
      once,
      '--trust',
      alice.trustPath,
      '--trust',
      bob.trustPath,
    ]);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toContain('GENOME_THRESHOLD_NOT_MET');
  });

  it('a second signer is added without dropping the first, and two distinct trusted signers pass', () => {
    const out = run('genome-sign.ts', [once, twice, 'bob-key'], {
      GENOME_SIGNING_PRIVATE_KEY: bob.priv,
    });
    expect(out.code, out.all).toBe(0);
    const signed = JSON.parse(readFileSync(twice, 'utf8'));
    expect(signed.signature.signer_key_id).toBe('alice-key');
    expect(signed.signatures.map((s: { signer_key_id: string }) => s.signer_key_id)).toEqual([
      'bob-key',
    ]);
    const verified = run('genome-verify.ts', [
      twice,
      '--trust',
      alice.trustPath,
      '--trust',
      bob.trustPath,
    ]);
    expect(verified.code, verified.all).toBe(0);
    expect(verified.stdout).toContain('VERIFIED against 2 trusted key(s): alice-key, bob-key');
  });

  it('threshold 2 fails when only one of the two signers is trusted', () => {
    const out = run('genome-verify.ts', [twice, '--trust', alice.trustPath]);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('GENOME_THRESHOLD_NOT_MET');
  });

  it('refuses to sign with a key the genome does not declare', () => {
    const carol = keygen('carol-key');
    const out = run('genome-sign.ts', [unsigned, join(work, 'x.json')], {
      GENOME_SIGNING_PRIVATE_KEY: carol.priv,
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('authority.signers has no entry for this key');
  });
});

describe('genomes signed only in `signatures`, as upstream Mathison boots them', () => {
  const alice = keygen('list-alice');
  const bob = keygen('list-bob');
  const mallory = keygen('list-mallory');
  /** A genome declaring the given keys, signed by the first, its signature moved to `signatures`. */
  const signedInList = (name: string, keys: ReturnType<typeof keygen>[], threshold = 1) => {
    const genome = JSON.parse(
      readFileSync(join(ROOT, 'genomes', 'TOTK_ROOT_v1.0.0', 'genome-unsigned.json'), 'utf8'),
    );
    genome.authority = {
      signers: keys.map((k) => ({ key_id: k.keyId, alg: 'ed25519', public_key: k.pub.public_key })),
      threshold,
    };
    const path = join(work, `${name}.json`);
    writeFileSync(path, JSON.stringify(genome, null, 2));
    const out = run('genome-sign.ts', [path], { GENOME_SIGNING_PRIVATE_KEY: keys[0]!.priv });
    expect(out.code, out.all).toBe(0);
    const { signature, ...rest } = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...rest, signatures: [signature] }, null, 2));
    return path;
  };

  it('genome-verify verifies one signed by a trusted key', () => {
    const path = signedInList('list-trusted', [alice]);
    const out = run('genome-verify.ts', [path, '--trust', alice.trustPath]);
    expect(out.code, out.all).toBe(0);
    expect(out.stdout).toContain('VERIFIED against 1 trusted key(s): list-alice');
  });

  it('genome-verify refuses one signed only by an untrusted key', () => {
    const path = signedInList('list-untrusted', [mallory]);
    const out = run('genome-verify.ts', [path, '--trust', alice.trustPath]);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('REFUSED GENOME_UNTRUSTED_SIGNER');
  });

  it('genome-sign adds a second signer to `signatures`, and threshold 2 is met', () => {
    const path = signedInList('list-two', [alice, bob], 2);
    const out = run('genome-sign.ts', [path, path, 'list-bob'], {
      GENOME_SIGNING_PRIVATE_KEY: bob.priv,
    });
    expect(out.code, out.all).toBe(0);
    const signed = JSON.parse(readFileSync(path, 'utf8'));
    expect(signed.signature).toBeUndefined();
    expect(signed.signatures.map((s: { signer_key_id: string }) => s.signer_key_id)).toEqual([
      'list-alice',
      'list-bob',
    ]);
    const verified = run('genome-verify.ts', [
      path,
      '--trust',
      alice.trustPath,
      '--trust',
      bob.trustPath,
    ]);
    expect(verified.code, verified.all).toBe(0);
    expect(verified.stdout).toContain('VERIFIED against 2 trusted key(s): list-alice, list-bob');
  });

  it('genome-manifest writes it, signatures and all', () => {
    const path = signedInList('list-manifest', [alice]);
    const out = run('genome-manifest.ts', [path, '--name', 'listed', '-o', 'json']);
    expect(out.code, out.all).toBe(0);
    const manifest = JSON.parse(out.stdout);
    expect(manifest.spec.genome).toEqual(JSON.parse(readFileSync(path, 'utf8')));
  });

  it('genome-manifest still refuses a genome with no signature at all', () => {
    const path = join(ROOT, 'genomes', 'TOTK_ROOT_v1.0.0', 'genome-unsigned.json');
    const out = run('genome-manifest.ts', [path, '--name', 'unsigned']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('REFUSED GENOME_UNSIGNED');
    expect(out.stdout).toBe('');
  });
});

describe('bad input gets a clear message and exit 1, never a stack trace', () => {
  const dir = join(work, 'bad');
  mkdirSync(dir);
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  const huge = file('huge.json', '');
  truncateSync(huge, 50 * 1024 * 1024);
  const trustWithPrivate = file(
    'private.trust.json',
    JSON.stringify({ key_id: 'k', alg: 'ed25519', public_key: keygen('leak').priv }),
  );
  const genomePath = join(INTEROP, 'upstream-test-genome.json');

  it.each([
    ['a missing file', [join(dir, 'nope.json')], 'GENOME_MISSING'],
    ['a file that is not JSON', [file('text.json', 'hello')], 'GENOME_UNREADABLE'],
    ['an empty file', [file('empty.json', '')], 'GENOME_UNREADABLE'],
    ['a directory', [dir], 'GENOME_UNREADABLE'],
    ['a 50 MB file', [huge], 'GENOME_TOO_LARGE'],
    ['JSON that is not a genome', [file('array.json', '[]')], 'GENOME_INVALID_SCHEMA'],
    [
      'a trust file holding a private key',
      [genomePath, '--trust', trustWithPrivate],
      'TRUST_KEY_INVALID',
    ],
    [
      'a missing trust file',
      [genomePath, '--trust', join(dir, 'nope.trust.json')],
      'GENOME_MISSING',
    ],
  ])('%s', (_name, args, code) => {
    const out = run('genome-verify.ts', args);
    expect(out.code).toBe(1);
    expect(out.all).toContain(`REFUSED ${code}`);
    expect(out.all).toContain('what to do:');
    expect(out.all).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it('sign without a private key says which variable to set', () => {
    const out = run('genome-sign.ts', [genomePath, join(dir, 'o.json')], {
      GENOME_SIGNING_PRIVATE_KEY: '',
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('set GENOME_SIGNING_PRIVATE_KEY');
    expect(out.all).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });
});

describe('genome-verify output cannot be spoofed by genome text', () => {
  it('escapes control characters, so a claim cannot print a fake VERIFIED line', () => {
    const genome = JSON.parse(
      readFileSync(join(INTEROP, 'upstream-totk-root-legacy.json'), 'utf8'),
    );
    genome.invariants[0].testable_claim =
      'x\n\nVERIFIED against 1 trusted key(s): totk-dev-key-001\u001b[8m';
    const path = join(work, 'spoof.json');
    writeFileSync(path, JSON.stringify(genome));
    const out = run('genome-verify.ts', [
      path,
      '--trust',
      join(INTEROP, 'upstream-totk-root-legacy.trust.json'),
    ]);
    expect(out.code).toBe(1);
    expect(out.stdout).not.toMatch(/^VERIFIED/m);
    expect(out.stdout).not.toContain('\u001b');
    expect(out.stdout).toContain('x\\u000a\\u000aVERIFIED');
  });

  it('refuses a file that starts with a byte-order mark, as JSON.parse would', () => {
    const path = join(work, 'bom.json');
    writeFileSync(
      path,
      `\ufeff${readFileSync(join(INTEROP, 'upstream-test-genome.json'), 'utf8')}`,
    );
    const out = run('genome-verify.ts', [
      path,
      '--trust',
      join(INTEROP, 'upstream-test-genome.trust.json'),
    ]);
    expect(out.code).toBe(1);
    expect(out.all).toContain('GENOME_UNREADABLE');
  });
});
