import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REFUSAL_CODES } from '../core/codes.ts';
import { toKubectlYaml } from '../core/kubectl-yaml.ts';
import { MAX_TRUST_FILE_ENTRIES, MAX_TRUST_FILES } from '../core/trust.ts';
import { WEBHOOK_ENV_OF } from '../webhook/settings.ts';
import {
  genome,
  keyPair,
  named,
  signedBy,
  trustSecret,
  type TestKeyPair,
} from '../test/builders/index.ts';
import { rmSync } from 'node:fs';

const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
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
    expect(out.stderr).toContain('REFUSED GENOME_INVALID_SIGNATURE');
    expect(out.stderr).toContain('what to do:');
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
    expect(verified.stderr).toContain('GENOME_THRESHOLD_NOT_MET');
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
    expect(out.stderr).toContain('GENOME_THRESHOLD_NOT_MET');
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
    expect(out.stderr).toContain('REFUSED GENOME_UNTRUSTED_SIGNER');
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
  const upstreamTrust = join(INTEROP, 'upstream-test-genome.trust.json');
  const upstreamKey = JSON.parse(readFileSync(upstreamTrust, 'utf8'))[0];

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
      'PRIVATE_KEY_EXPOSED',
    ],
    [
      'a missing trust file',
      [genomePath, '--trust', join(dir, 'nope.trust.json')],
      'TRUST_FILE_MISSING',
    ],
    ['a trust file that is a directory', [genomePath, '--trust', dir], 'TRUST_FILE_UNREADABLE'],
    [
      'an empty trust file',
      [genomePath, '--trust', file('empty.trust.json', '')],
      'TRUST_FILE_UNREADABLE',
    ],
    [
      'a trust file that is not JSON',
      [genomePath, '--trust', file('text.trust.json', 'hi')],
      'TRUST_FILE_UNREADABLE',
    ],
    ['a 50 MB trust file', [genomePath, '--trust', huge], 'TRUST_FILE_TOO_LARGE'],
    [
      `more than ${MAX_TRUST_FILE_ENTRIES} entries in a trust file`,
      [
        genomePath,
        '--trust',
        file(
          'many.trust.json',
          JSON.stringify(
            Array.from({ length: MAX_TRUST_FILE_ENTRIES + 1 }, (_, i) => ({
              ...upstreamKey,
              key_id: `k-${i}`,
            })),
          ),
        ),
      ],
      'TRUST_FILE_TOO_LARGE',
    ],
    [
      `more than ${MAX_TRUST_FILES} trust files`,
      [
        genomePath,
        ...Array.from({ length: MAX_TRUST_FILES + 1 }, () => ['--trust', upstreamTrust]).flat(),
      ],
      'TRUST_FILES_TOO_MANY',
    ],
    [
      'a trust entry with a field that is not part of one',
      [
        genomePath,
        '--trust',
        file('extra.trust.json', JSON.stringify({ ...upstreamKey, comment: 'mine' })),
      ],
      'TRUST_FILE_INVALID',
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
    expect(out.stdout).toContain('x\\u{a}\\u{a}VERIFIED');
  });

  /** Runs genome-verify on the legacy TOTK genome changed by `edit` (it is refused either way). */
  const runEdited = (name: string, edit: (genome: any) => void) => {
    const genome = JSON.parse(
      readFileSync(join(INTEROP, 'upstream-totk-root-legacy.json'), 'utf8'),
    );
    edit(genome);
    const path = join(work, name);
    writeFileSync(path, JSON.stringify(genome));
    return run('genome-verify.ts', [
      path,
      '--trust',
      join(INTEROP, 'upstream-totk-root-legacy.trust.json'),
    ]);
  };

  /** Code points that reorder, hide or break a line on a terminal. */
  const FORMAT_CHARACTERS = [
    ...'\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069',
    ...'\u200b\u200c\u200d\u200e\u200f\ufeff\u00ad\u061c\u2060\u2028\u2029\u00a0\u3000',
    '\u{e0041}',
  ];

  it('escapes bidi controls, format characters and separators in the summary', () => {
    const out = runEdited('bidi.json', (g) => {
      g.invariants[0].testable_claim = FORMAT_CHARACTERS.map((c) => `<${c}>`).join('');
      g.capabilities[0].allow_actions = ['\u202eetirw_emoneg'];
    });
    expect(out.code).toBe(1);
    for (const c of FORMAT_CHARACTERS) {
      expect(out.all).not.toContain(c);
      expect(out.stdout).toContain(`<\\u{${c.codePointAt(0)?.toString(16)}}>`);
    }
  });

  it('shows a long run of spaces as a count, so a wrapped line cannot start a fake VERIFIED', () => {
    const out = runEdited('spaces.json', (g) => {
      g.invariants[0].testable_claim = `ok${' '.repeat(200)}VERIFIED against 1 trusted key(s): totk-dev-key-001`;
    });
    expect(out.code).toBe(1);
    expect(out.stdout).not.toMatch(/ {9}VERIFIED/);
    expect(out.stdout).toContain('ok\\u{20}*200VERIFIED');
  });

  it('clips a 3.9 MB version in a refusal and says how long it was', () => {
    const huge = `x${'a'.repeat(3_900_000)}`;
    const out = runEdited('bad-version.json', (g) => {
      g.version = huge;
    });
    expect(out.code).toBe(1);
    expect(out.all).toContain('REFUSED GENOME_INVALID_SCHEMA');
    expect(out.all).toContain(`…[${huge.length} characters]`);
    expect(out.all.length).toBeLessThan(4000);
  });

  it('clips a 3.9 MB (valid semver) version in the summary', () => {
    const huge = `1.0.0-${'a'.repeat(3_900_000)}`;
    const out = runEdited('long-version.json', (g) => {
      g.version = huge;
    });
    expect(out.code).toBe(1);
    expect(out.stdout).toContain(`…[${huge.length} characters]`);
    expect(out.all.length).toBeLessThan(6000);
  });

  it('clips a long claim in the summary and says how long it was', () => {
    const out = runEdited('long-claim.json', (g) => {
      g.invariants[0].testable_claim = 'c'.repeat(100_000);
    });
    expect(out.stdout).toContain('…[100000 characters]');
    expect(out.stdout.length).toBeLessThan(4000);
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

/** What a CLI run did: exit code, output, its peak resident memory and how long it took. */
interface BoundedRun {
  code: number | null;
  stdout: string;
  stderr: string;
  all: string;
  peakRssBytes: number;
  ms: number;
  killedFor?: 'memory' | 'time';
}

const MEMORY_CEILING = 400 * 1024 * 1024;

/** Reads a /proc/<pid>/status field in bytes (0 once the process is gone). */
function procStatusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs genome-verify as one node process (no tsx wrapper), watching its memory: it is killed
 * when it passes MEMORY_CEILING or the time limit, so a read without a bound fails the test
 * instead of exhausting the machine.
 */
function runBounded(
  args: string[],
  options: { stdin?: number | Buffer; timeoutMs?: number } = {},
): Promise<BoundedRun> {
  const started = performance.now();
  const child = spawn(
    NODE,
    ['--import', 'tsx', join(ROOT, 'scripts', 'genome-verify.ts'), ...args],
    {
      cwd: ROOT,
      stdio: [typeof options.stdin === 'number' ? options.stdin : 'pipe', 'pipe', 'pipe'],
    },
  );
  const out = { stdout: '', stderr: '' };
  const keep = (name: 'stdout' | 'stderr') => (chunk: Buffer) => {
    if (out[name].length < 1_000_000) out[name] += chunk.toString('utf8');
  };
  child.stdout?.on('data', keep('stdout'));
  child.stderr?.on('data', keep('stderr'));
  if (child.stdin !== null) {
    child.stdin.on('error', () => {}); // EPIPE once the CLI has read its limit and closed
    child.stdin.end(options.stdin instanceof Buffer ? options.stdin : undefined);
  }
  let peak = 0;
  let killedFor: BoundedRun['killedFor'];
  const pid = child.pid as number;
  const watch = setInterval(() => {
    peak = Math.max(peak, procStatusBytes(pid, 'VmHWM'));
    if (procStatusBytes(pid, 'VmRSS') > MEMORY_CEILING) killedFor = 'memory';
    if (performance.now() - started > (options.timeoutMs ?? 15_000)) killedFor ??= 'time';
    if (killedFor !== undefined) child.kill('SIGKILL');
  }, 20);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearInterval(watch);
      resolve({
        code,
        ...out,
        all: out.stdout + out.stderr,
        peakRssBytes: peak,
        ms: performance.now() - started,
        ...(killedFor && { killedFor }),
      });
    });
  });
}

/** A FIFO that an endless writer (cat /dev/zero) feeds; stopped after the test. */
function zeroFifo(name: string): { path: string; stop: () => void } {
  const path = join(work, name);
  expect(spawnSync('mkfifo', [path]).status).toBe(0);
  const writer = spawn('sh', ['-c', 'exec cat /dev/zero > "$0"', path], { stdio: 'ignore' });
  writer.on('error', () => {});
  return {
    path,
    stop: () => {
      if (writer.exitCode === null) writer.kill('SIGKILL');
    },
  };
}

/**
 * A real pipe for a child's standard input, as `cat file |` gives: a FIFO that cat writes the
 * file into, opened for reading (a pipe, unlike the socket Node's spawn uses for 'pipe').
 */
function catIntoFifo(file: string, name: string): { fd: number; stop: () => void } {
  const path = join(work, name);
  expect(spawnSync('mkfifo', [path]).status).toBe(0);
  const writer = spawn('sh', ['-c', 'exec cat "$0" > "$1"', file, path], { stdio: 'ignore' });
  writer.on('error', () => {});
  const fd = openSync(path, 'r'); // returns once cat has opened the other end
  return {
    fd,
    stop: () => {
      closeSync(fd);
      if (writer.exitCode === null) writer.kill('SIGKILL');
    },
  };
}

describe('reads are bounded whatever the file is', () => {
  const genomePath = join(INTEROP, 'upstream-test-genome.json');
  const trustPath = join(INTEROP, 'upstream-test-genome.trust.json');
  /** A well-formed genome whose name alone is 50 MB. */
  const bigGenome = () => {
    const genome = JSON.parse(readFileSync(genomePath, 'utf8'));
    genome.name = 'N'.repeat(50 * 1024 * 1024);
    return Buffer.from(JSON.stringify(genome));
  };

  const expectBoundedRefusal = (out: BoundedRun, code: string) => {
    expect(out.killedFor, out.all.slice(0, 2000)).toBeUndefined();
    expect(out.code).toBe(1);
    expect(out.all).toContain(`REFUSED ${code}`);
    expect(out.all.length).toBeLessThan(4000);
    expect(out.peakRssBytes).toBeLessThan(MEMORY_CEILING);
  };

  it('refuses /dev/zero as a genome, quickly and in bounded memory', async () => {
    expectBoundedRefusal(await runBounded(['/dev/zero']), 'GENOME_TOO_LARGE');
  });

  it('refuses /dev/zero as a trust file with the trust file code', async () => {
    expectBoundedRefusal(
      await runBounded([genomePath, '--trust', '/dev/zero']),
      'TRUST_FILE_TOO_LARGE',
    );
  });

  it('refuses an endless FIFO as a genome and as a trust file', async () => {
    const genomeFifo = zeroFifo('genome.fifo');
    const trustFifo = zeroFifo('trust.fifo');
    try {
      expectBoundedRefusal(await runBounded([genomeFifo.path]), 'GENOME_TOO_LARGE');
      expectBoundedRefusal(
        await runBounded([genomePath, '--trust', trustFifo.path]),
        'TRUST_FILE_TOO_LARGE',
      );
    } finally {
      genomeFifo.stop();
      trustFifo.stop();
    }
  });

  it('refuses /dev/zero on standard input given as -', async () => {
    const zero = openSync('/dev/zero', 'r');
    try {
      expectBoundedRefusal(await runBounded(['-'], { stdin: zero }), 'GENOME_TOO_LARGE');
    } finally {
      closeSync(zero);
    }
  });

  it('refuses 50 MB written into standard input (-) before parsing it, never printing the name', async () => {
    const out = await runBounded(['-', '--trust', trustPath], { stdin: bigGenome() });
    expectBoundedRefusal(out, 'GENOME_TOO_LARGE');
    expect(out.all).not.toContain('NNNNNNNN');
  });

  it('refuses `cat big.json | genome-verify /dev/stdin` the same way', async () => {
    const big = join(work, 'big.json');
    writeFileSync(big, bigGenome());
    const pipe = catIntoFifo(big, 'stdin.fifo');
    try {
      const out = await runBounded(['/dev/stdin', '--trust', trustPath], { stdin: pipe.fd });
      expectBoundedRefusal(out, 'GENOME_TOO_LARGE');
      expect(out.all).not.toContain('NNNNNNNN');
    } finally {
      pipe.stop();
    }
  });

  it('verifies a genome read from standard input given as -', async () => {
    const out = await runBounded(['-', '--trust', trustPath], {
      stdin: readFileSync(genomePath),
    });
    expect(out.code, out.all).toBe(0);
    expect(out.stdout).toContain('VERIFIED against 1 trusted key(s): dev-key-001');
  });
});

describe('genome-verify never prints a private key', () => {
  const genomePath = join(INTEROP, 'upstream-test-genome.json');

  it("refuses a file holding genome-keygen's stdout and stderr together as a private key", () => {
    const path = join(work, 'both.trust.json');
    const fd = openSync(path, 'w');
    try {
      // genome-keygen.ts key > both.trust.json 2>&1
      const result = spawnSync(TSX, [join(ROOT, 'scripts', 'genome-keygen.ts'), 'both-key'], {
        stdio: ['ignore', fd, fd],
      });
      expect(result.status).toBe(0);
    } finally {
      closeSync(fd);
    }
    const text = readFileSync(path, 'utf8');
    const secret = /MC4CAQAwBQYDK2VwBCIEI[A-Za-z0-9+/=]+/.exec(text)?.[0] as string;
    expect(secret).toBeDefined();
    const out = run('genome-verify.ts', [genomePath, '--trust', path]);
    expect(out.code).toBe(1);
    expect(out.all).toContain('REFUSED PRIVATE_KEY_EXPOSED');
    expect(out.all).not.toContain(secret.slice(20, 52));
  });

  it('refuses a private key pasted into authority public_key, naming it without printing it', () => {
    const leak = keygen('pasted');
    const genome = JSON.parse(readFileSync(genomePath, 'utf8'));
    genome.authority.signers[0].public_key = leak.priv;
    const path = join(work, 'pasted.json');
    writeFileSync(path, JSON.stringify(genome));
    for (const args of [
      [path],
      [path, '--trust', join(INTEROP, 'upstream-test-genome.trust.json')],
    ]) {
      const out = run('genome-verify.ts', args);
      expect(out.code).toBe(1);
      expect(out.all).toContain('REFUSED PRIVATE_KEY_EXPOSED');
      expect(out.all).toContain('authority.signers[0].public_key');
      expect(out.all).not.toContain(leak.priv.slice(20, 52));
    }
  });
});

describe('refusal codes', () => {
  const sources = (dir: string) =>
    readdirSync(join(ROOT, dir))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => readFileSync(join(ROOT, dir, f), 'utf8'));
  const CODE_LIKE = /['"`]((?:GENOME|TRUST|WEBHOOK|PRIVATE)_[A-Z0-9_]+)['"`]/g;
  const ENV_NAME = /env(?:\.|\[['"`])([A-Z0-9_]+)/g;

  it('every code the CLI, core and the webhook use is declared in core/codes.ts', () => {
    const text = ['scripts', 'cli', 'cmd', 'core', 'webhook', 'kube'].flatMap(sources).join('\n');
    // Environment variables: read as env.NAME, or named in the webhook's table of settings.
    const envNames = new Set([
      ...[...text.matchAll(ENV_NAME)].map((m) => m[1]),
      ...Object.values(WEBHOOK_ENV_OF),
    ]);
    const used = new Set(
      [...text.matchAll(CODE_LIKE)].map((m) => m[1] as string).filter((c) => !envNames.has(c)),
    );
    expect(used.size).toBeGreaterThan(10);
    for (const code of used) expect(Object.keys(REFUSAL_CODES), code).toContain(code);
  });

  it('the README lists every code', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const code of Object.keys(REFUSAL_CODES)) expect(readme, code).toContain(`\`${code}\``);
  });
});

describe('genome-verify --policy: the verdict the cluster would give, offline', () => {
  const POLICIES = join(ROOT, 'test', 'fixtures', 'policies');
  const fixture = (name: string) => join(POLICIES, name);
  const dir = join(work, 'policies');
  mkdirSync(dir);
  const write = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : toKubectlYaml(content));
    return path;
  };
  const prodA = keyPair('prod-a');
  const prodB = keyPair('prod-b');
  const officer = keyPair('security-officer-1');
  const dev = keyPair('dev-1');
  const rotating = keyPair('rotating-1');
  const secretOf = (
    name: string,
    keys: TestKeyPair[],
    annotations: Record<string, string> = {},
  ) => {
    const secret = trustSecret(
      'genome-system',
      name,
      Object.fromEntries(keys.map((k) => [k.keyId, k.publicKey])),
    );
    // As `kubectl get secret -o yaml` prints it: data, base64.
    const { stringData, ...rest } = secret;
    const data = Object.fromEntries(
      Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
    rest.metadata.annotations = { ...rest.metadata.annotations, ...annotations };
    return { ...rest, type: 'Opaque', data };
  };
  const prodSecret = write('prod.yaml', secretOf('prod-signers', [prodA, prodB, officer]));
  // Two Secrets in one file, as a List.
  const devAndRotating = write('dev-rotating.yaml', {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      secretOf('dev-signers', [dev]),
      secretOf('rotating-signers', [rotating], {
        'genome.mathison.io/not-before': '2026-01-01T00:00:00Z',
        'genome.mathison.io/not-after': '2027-01-01T00:00:00Z',
      }),
    ],
  });
  const genomeFile = (name: string, ...parts: Parameters<typeof genome>) =>
    write(`${name}.json`, JSON.stringify(genome(...parts)));
  const devGenome = genomeFile('dev-signed', signedBy(dev));
  const prodGenome = genomeFile('prod-signed', signedBy(prodA, officer));
  const prodNoOfficer = genomeFile('prod-no-officer', signedBy(prodA, prodB));
  const rotatingGenome = genomeFile('rotating-signed', signedBy(rotating));
  const keys = ['--trust-secret', prodSecret, '--trust-secret', devAndRotating];
  const NOW = ['--now', '2026-06-01T00:00:00Z'];
  const verifyUnder = (genomePath: string, policy: string, labels: string, ...more: string[]) =>
    run('genome-verify.ts', [
      genomePath,
      ...keys,
      '--policy',
      policy,
      '--namespace-labels',
      labels,
      ...NOW,
      ...more,
    ]);

  it.each([
    {
      name: 'a dev key in production',
      path: devGenome,
      labels: 'env=production',
      policy: 'production',
      code: 'GENOME_UNTRUSTED_SIGNER',
      signer: /dev-1 +not a key of this policy/,
    },
    {
      name: 'production keys in dev',
      path: prodGenome,
      labels: 'env=dev',
      policy: 'dev',
      code: 'GENOME_UNTRUSTED_SIGNER',
      signer: /prod-a +not a key of this policy/,
    },
    {
      name: '2 of 3 without the required signer',
      path: prodNoOfficer,
      labels: 'env=production',
      policy: 'production',
      code: 'POLICY_REQUIRED_SIGNER_MISSING',
      signer: /security-officer-1/,
    },
    {
      name: 'a genome no policy matches',
      path: devGenome,
      labels: 'env=staging',
      policy: undefined,
      code: 'POLICY_NO_MATCH',
      signer: /policies: +0 of 2 match/,
    },
  ])('refuses $name, naming the policy and each signer', (c) => {
    const out = verifyUnder(c.path, fixture('environments.yaml'), c.labels);
    expect(out.code, out.all).toBe(1);
    if (c.policy !== undefined)
      expect(out.stdout).toContain(`policy ${c.policy} (Enforce): NOT HELD ${c.code}`);
    expect(out.stdout).toMatch(c.signer);
    expect(out.stderr).toContain(`REFUSED ${c.code}`);
    expect(out.stdout).not.toMatch(/^VERIFIED/m);
  });

  it.each([
    {
      name: 'a dev key in dev',
      path: devGenome,
      labels: 'env=dev',
      policy: 'dev',
      signers: 'dev-1',
    },
    {
      name: '2 of 3 with the required signer in production',
      path: prodGenome,
      labels: 'env=production',
      policy: 'production',
      signers: 'prod-a, security-officer-1',
    },
  ])('verifies $name', (c) => {
    const out = verifyUnder(c.path, fixture('environments.yaml'), c.labels);
    expect(out.code, out.all).toBe(0);
    expect(out.stdout).toContain(`namespace labels: ${c.labels}`);
    expect(out.stdout).toContain(`policy ${c.policy} (Enforce): HELD`);
    expect(out.stdout).toContain(`VERIFIED under 1 policy (${c.policy}): ${c.signers}`);
  });

  it("refuses a key outside its Secret's window by --now, and verifies inside it", () => {
    const after = run('genome-verify.ts', [
      rotatingGenome,
      ...keys,
      '--policy',
      fixture('rotation.yaml'),
      '--now',
      '2027-01-01T00:00:00Z',
    ]);
    expect(after.code, after.all).toBe(1);
    expect(after.stdout).toMatch(/rotating-1 +outside its validity window/);
    expect(after.stderr).toContain('REFUSED TRUST_KEY_OUTSIDE_WINDOW');
    const before = run('genome-verify.ts', [
      rotatingGenome,
      ...keys,
      '--policy',
      fixture('rotation.yaml'),
      '--now',
      '2025-12-31T23:59:59Z',
    ]);
    expect(before.stderr).toContain('REFUSED TRUST_KEY_OUTSIDE_WINDOW');
    const inside = run('genome-verify.ts', [
      rotatingGenome,
      ...keys,
      '--policy',
      fixture('rotation.yaml'),
      '--now',
      '2026-12-31T23:59:59Z',
    ]);
    expect(inside.code, inside.all).toBe(0);
    expect(inside.stdout).toContain('VERIFIED under 1 policy (rotation): rotating-1');
  });

  it('refuses a genome older than maxAge at --now (created 2026-01-01, maxAge 720h)', () => {
    const old = run('genome-verify.ts', [
      devGenome,
      ...keys,
      '--policy',
      fixture('max-age.yaml'),
      '--namespace-labels',
      'env=dev',
      '--now',
      '2026-02-01T00:00:01Z',
    ]);
    expect(old.code, old.all).toBe(1);
    expect(old.stderr).toContain('REFUSED GENOME_TOO_OLD');
    const fresh = run('genome-verify.ts', [
      devGenome,
      ...keys,
      '--policy',
      fixture('max-age.yaml'),
      '--namespace-labels',
      'env=dev',
      '--now',
      '2026-01-30T00:00:00Z',
    ]);
    expect(fresh.code, fresh.all).toBe(0);
  });

  it('refuses what a policy naming a missing Secret governs (POLICY_NOT_READY)', () => {
    const out = verifyUnder(devGenome, fixture('missing-secret.yaml'), 'env=dev');
    expect(out.code, out.all).toBe(1);
    expect(out.stdout).toContain('policy needs-missing (Enforce): NOT HELD POLICY_NOT_READY');
    expect(out.stderr).toContain('REFUSED POLICY_NOT_READY');
    expect(out.stdout).toContain('"no-such-secret"');
  });

  it('a failing Warn policy prints a warning and exits 0', () => {
    const out = verifyUnder(devGenome, fixture('warn.yaml'), 'env=production');
    expect(out.code, out.all).toBe(0);
    expect(out.stdout).toContain('policy production-warn (Warn): NOT HELD GENOME_UNTRUSTED_SIGNER');
    expect(out.stdout).toMatch(/^WARNING: policy production-warn \(Warn\) does not hold/m);
    expect(out.stdout).toMatch(/^VERIFIED/m);
  });

  it('an Audit policy alone admits nothing (POLICY_NO_MATCH), and reports', () => {
    const out = verifyUnder(devGenome, fixture('audit.yaml'), 'env=dev');
    expect(out.code, out.all).toBe(1);
    expect(out.stdout).toContain('policy audit-all (Audit): HELD');
    expect(out.stderr).toContain('REFUSED POLICY_NO_MATCH');
  });

  it('every matching Enforce policy must hold, over several --policy files', () => {
    const out = run('genome-verify.ts', [
      prodGenome,
      ...keys,
      '--policy',
      fixture('environments.yaml'),
      '--policy',
      fixture('rotation.yaml'),
      '--namespace-labels',
      'env=production',
      ...NOW,
    ]);
    expect(out.code, out.all).toBe(1);
    expect(out.stdout).toContain('policy production (Enforce): HELD');
    expect(out.stdout).toContain('policy rotation (Enforce): NOT HELD GENOME_UNTRUSTED_SIGNER');
    expect(out.stdout).toContain('policies:         2 of 3 match');
  });

  it('escapes a genome name in the report', () => {
    const path = genomeFile('spoof-name', signedBy(dev), named('X\u001b[2J\nVERIFIED'));
    const out = verifyUnder(path, fixture('environments.yaml'), 'env=staging');
    expect(out.code).toBe(1);
    expect(out.all).not.toContain('\u001b');
    expect(out.stdout).not.toMatch(/^VERIFIED/m);
  });

  it('--trust files still count, and their keys belong to no Secret', () => {
    const trustPath = write(
      'dev.trust.json',
      JSON.stringify({ key_id: 'dev-1', alg: 'ed25519', public_key: dev.publicKey }),
    );
    const out = run('genome-verify.ts', [
      devGenome,
      '--trust',
      trustPath,
      '--policy',
      fixture('environments.yaml'),
      '--namespace-labels',
      'env=dev',
    ]);
    expect(out.code, out.all).toBe(1);
    // dev's Secret is not given: the file's key is no Secret's, and the policy is not ready.
    expect(out.stdout).toContain('policy dev (Enforce): NOT HELD POLICY_NOT_READY');
    const open = write('open.yaml', {
      apiVersion: 'mathison.io/v1alpha1',
      kind: 'GenomeTrustPolicy',
      metadata: { name: 'open' },
      spec: { mode: 'Enforce' },
    });
    const ok = run('genome-verify.ts', [devGenome, '--trust', trustPath, '--policy', open]);
    expect(ok.code, ok.all).toBe(0);
    expect(ok.stdout).toContain('namespace labels: (none)');
  });

  it('without --policy, --trust-secret keys verify in the flat model, as --trust keys do', () => {
    const out = run('genome-verify.ts', [devGenome, ...keys]);
    expect(out.code, out.all).toBe(0);
    expect(out.stdout).toContain('VERIFIED against 5 trusted key(s): dev-1');
  });

  const tooMany = Array.from({ length: 10_000 }, (_, i) => ({
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'GenomeTrustPolicy',
    metadata: { name: `p-${i}` },
    spec: { mode: 'Audit' },
  }));
  it.each([
    [
      'a field it does not know',
      () => fixture('invalid-unknown-field.yaml'),
      /spec\.threshhold is not a field of spec/,
    ],
    [
      'a mode it does not know',
      () => fixture('invalid-mode.yaml'),
      /spec\.mode must be one of Enforce, Warn, Audit/,
    ],
    [
      '10,000 policies',
      () => write('many.yaml', tooMany.map((p) => JSON.stringify(p)).join('\n---\n')),
      /over the limit of 1048576|more than 256/,
    ],
    [
      '10,000 objects in a List',
      () =>
        write(
          'many-list.json',
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'List',
            items: tooMany.map((p) => ({ metadata: p.metadata })),
          }),
        ),
      /more than 256/,
    ],
    ['a YAML bomb of aliases', () => fixture('invalid-alias-bomb.yaml'), /alias/i],
    ['a missing file', () => join(dir, 'nope.yaml'), /does not exist/],
    ['a directory', () => dir, /is a directory/],
    ['/dev/zero', () => '/dev/zero', /the limit/],
    [
      'two policies of one name in two files',
      () => fixture('environments.yaml'),
      /two policies named production/,
    ],
  ])('refuses a policy file with %s (POLICY_INVALID), quickly', async (name, path, message) => {
    const extra = name.startsWith('two policies') ? ['--policy', fixture('environments.yaml')] : [];
    const out = await runBounded([devGenome, ...keys, '--policy', path(), ...extra, ...NOW], {
      timeoutMs: 10_000,
    });
    expect(out.killedFor, out.all.slice(0, 2000)).toBeUndefined();
    expect(out.code, out.all).toBe(1);
    expect(out.all).toContain('REFUSED POLICY_INVALID');
    expect(out.all).toMatch(message);
    expect(out.all.length).toBeLessThan(4000);
  });

  it('refuses an endless FIFO as a policy file and as a trust Secret file, in bounded memory', async () => {
    const policyFifo = zeroFifo('policy.fifo');
    const secretFifo = zeroFifo('secret.fifo');
    try {
      const policy = await runBounded([devGenome, '--policy', policyFifo.path]);
      expect(policy.killedFor).toBeUndefined();
      expect(policy.all).toContain('REFUSED POLICY_INVALID');
      expect(policy.peakRssBytes).toBeLessThan(MEMORY_CEILING);
      const secret = await runBounded([devGenome, '--trust-secret', secretFifo.path]);
      expect(secret.killedFor).toBeUndefined();
      expect(secret.all).toContain('REFUSED TRUST_FILE_TOO_LARGE');
    } finally {
      policyFifo.stop();
      secretFifo.stop();
    }
  });

  it.each([
    [
      'more than 8 --policy files',
      Array.from({ length: 9 }, () => ['--policy', fixture('audit.yaml')]).flat(),
      'REFUSED POLICY_INVALID',
    ],
    [
      'a Secret file whose Secret is not a trust Secret',
      ['--trust-secret', fixture('audit.yaml')],
      'REFUSED TRUST_FILE_INVALID',
    ],
    ['--namespace-labels without --policy', ['--namespace-labels', 'env=dev'], 'usage:'],
    [
      '--namespace-labels that are not k=v',
      ['--policy', fixture('audit.yaml'), '--namespace-labels', 'env'],
      'usage:',
    ],
    [
      '--now that is not RFC 3339',
      ['--policy', fixture('audit.yaml'), '--now', 'tomorrow'],
      'usage:',
    ],
    ['a policy file on standard input', ['--policy', '-'], 'usage:'],
  ])('refuses %s', (_name, args, expected) => {
    const out = run('genome-verify.ts', [devGenome, ...args]);
    expect(out.code, out.all).toBe(1);
    expect(out.all).toContain(expected);
  });
});
