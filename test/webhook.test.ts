import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { genomeId } from '../core/canonical.ts';
import { genomeManifest } from '../core/manifest.ts';
import type { Genome } from '../core/genome.ts';
import { genomeWebhookConfiguration } from '../core/webhook-config.ts';
import {
  eventually,
  kubeClient,
  kubectl,
  uniqueNamespace,
  installGenomeCrd,
} from './support/cluster.ts';
import { pickFreePorts } from '../cluster/ports.ts';
import { startWebhook, type RunningWebhook } from './support/webhook.ts';
import {
  declaring,
  genome,
  keyPair,
  named,
  signedBy,
  threshold,
  totkGenome,
  totkKeyPair,
  totkUnsignedGenome,
  trustSecret,
  version,
  withFields,
} from './builders/index.ts';

const ROOT = join(import.meta.dirname, '..');
const readJson = (...path: string[]) => JSON.parse(readFileSync(join(...path), 'utf8'));
const totkTrust = readJson(
  ROOT,
  'genomes',
  'TOTK_ROOT_v1.0.0',
  'TEST-ONLY-totk-key-001.trust.json',
)[0];
const interop = (name: string) => readJson(ROOT, 'test', 'vectors', 'interop', `${name}.json`);
const interopKey = (name: string) =>
  readJson(ROOT, 'test', 'vectors', 'interop', `${name}.trust.json`)[0];

let ownNamespace: string;
let namespace: string;
let configName: string;
let webhook: RunningWebhook;
const alice = keyPair('alice-key');
const bob = keyPair('bob-key');
const totkSigner = totkKeyPair();

async function apply(object: unknown, ...flags: string[]) {
  return kubectl(['apply', '-f', '-', ...flags], {
    input: JSON.stringify(object),
    allowFailure: true,
  });
}

async function applyGenome(name: string, genome: unknown, ...flags: string[]) {
  return apply(genomeManifest(genome as Genome, name, namespace), ...flags);
}

async function storedGenome(name: string): Promise<Genome | undefined> {
  const api = kubeClient().makeApiClient(CustomObjectsApi);
  try {
    const object = (await api.getNamespacedCustomObject({
      group: 'mathison.io',
      version: 'v1alpha1',
      namespace,
      plural: 'genomes',
      name,
    })) as { spec: { genome: Genome } };
    return object.spec.genome;
  } catch {
    return undefined;
  }
}

/** The genome with its signatures moved to `signatures`, as tools other than genome-sign write. */
const onlyInSignatures = (g: Genome): Genome => {
  const { signature, signatures, ...rest } = g;
  return { ...rest, signatures: [...(signature ? [signature] : []), ...(signatures ?? [])] };
};

beforeAll(async () => {
  ownNamespace = await uniqueNamespace('genome-system');
  namespace = await uniqueNamespace('genomes');
  configName = `genome-webhook-${namespace}`;
  const [port] = await pickFreePorts(1);
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  await apply(
    trustSecret(
      ownNamespace,
      'trusted-keys',
      {
        [totkTrust.key_id]: totkTrust.public_key,
        [alice.keyId]: alice.publicKey,
        'dev-key-001': interopKey('upstream-test-genome').public_key,
        'totk-dev-key-001': interopKey('upstream-totk-root-legacy').public_key,
      },
      [totkTrust.key_id],
    ),
  );
  // Registered first, as a Helm install does: until the webhook serves and has filled in the
  // caBundle, Genome writes fail closed.
  const url = `https://127.0.0.1:${port}/validate-genome`;
  await apply(genomeWebhookConfiguration(configName, ownNamespace, { url }));
  webhook = await startWebhook({ namespace: ownNamespace, configName, port });
  // The webhook fills in the caBundle; until the API server has it, calls fail closed.
  await eventually(
    'the API server to call the webhook over TLS',
    async () => {
      const out = await applyGenome('probe', totkGenome(), '--dry-run=server');
      return out.code === 0 ? true : undefined;
    },
    30_000,
  );
}, 120_000);

afterAll(async () => {
  await kubectl(['delete', 'validatingwebhookconfiguration', configName, '--ignore-not-found'], {
    allowFailure: true,
  });
  await webhook?.stop();
});

describe('the Genome CRD', () => {
  it('stores exactly what was signed: the genome id read back equals the CLI id', async () => {
    const nonAscii = genome(
      signedBy(alice),
      named('ГЕНОМ_ñandú_😀'),
      withFields({
        invariants: [
          {
            id: 'INV-ü',
            severity: 'HIGH',
            testable_claim: 'zwölf Boxkämpfer jagen Viktor — « 中文 » \u2028',
            enforcement_hook: 'hook.é',
          },
        ],
      }),
    );
    const cases: [string, Genome][] = [
      ['totk', totkGenome()],
      ['upstream', interop('upstream-test-genome')],
      ['non-ascii', nonAscii],
    ];
    for (const [name, genome] of cases) {
      const out = await applyGenome(name, genome);
      expect(out.code, out.stderr).toBe(0);
      const stored = await storedGenome(name);
      expect(stored && genomeId(stored), name).toBe(genomeId(genome));
    }
  });

  it('is explained by kubectl explain and listed by kubectl get gn', async () => {
    const explain = await kubectl(['explain', 'gn.spec.genome.authority']);
    expect(explain.stdout).toContain('Who may sign this genome');
    const get = await kubectl(['get', 'gn', '-n', namespace, 'totk']);
    expect(get.stdout).toMatch(/NAME\s+GENOME\s+VERSION\s+VERIFIED\s+REASON\s+ID\s+AGE/);
    expect(get.stdout).toMatch(/totk\s+TOTK_ROOT\s+1\.0\.0/);
  });
});

describe('the validating webhook', () => {
  it('admits the TOTK genome with a warning that a TEST key signed it', async () => {
    const out = await applyGenome('totk-warned', totkGenome());
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toMatch(/Warning: .*TEST key/);
  });

  it('admits a genome signed only in `signatures` by a trusted key, and stores it as signed', async () => {
    const signed = onlyInSignatures(genome(signedBy(alice, totkSigner), threshold(2)));
    expect(signed.signature).toBeUndefined();
    const out = await applyGenome('only-signatures', signed);
    expect(out.code, out.stderr).toBe(0);
    const stored = await storedGenome('only-signatures');
    expect(stored?.signatures).toEqual(signed.signatures);
    expect(stored && genomeId(stored)).toBe(genomeId(signed));
  });

  const refusals: [string, () => unknown, RegExp][] = [
    [
      'a tampered nested field',
      () => {
        const g = totkGenome();
        g.capabilities[0]!.allow_actions.push('genome_write');
        return g;
      },
      /GENOME_INVALID_SIGNATURE/,
    ],
    ['an unsigned genome', () => totkUnsignedGenome(), /GENOME_UNSIGNED/],
    [
      'an untrusted self-signed genome',
      () => {
        const m = keyPair('mallory');
        return genome(signedBy(m));
      },
      /GENOME_UNTRUSTED_SIGNER/,
    ],
    [
      'a genome signed only in `signatures` by an untrusted key',
      () => {
        const m = keyPair('mallory');
        return onlyInSignatures(genome(signedBy(m)));
      },
      /GENOME_UNTRUSTED_SIGNER/,
    ],
    [
      'a genome whose `signatures` is empty and that has no `signature`',
      () => ({ ...genome(declaring(alice)), signatures: [] }),
      /GENOME_UNSIGNED/,
    ],
    [
      'a trusted key id with a different public key',
      () => {
        const fake = keyPair(alice.keyId);
        return genome(signedBy(fake));
      },
      /GENOME_UNTRUSTED_SIGNER: .*different public key/,
    ],
    [
      'a threshold met only by one signer twice',
      () => {
        const g = genome(declaring(alice, bob), signedBy(alice), threshold(2));
        return { ...g, signatures: [g.signature] };
      },
      /GENOME_THRESHOLD_NOT_MET/,
    ],
    [
      'the legacy upstream TOTK genome, its key trusted',
      () => interop('upstream-totk-root-legacy'),
      /GENOME_INVALID_SIGNATURE: .*legacy form/,
    ],
    [
      'a field outside the format',
      () => ({ ...totkGenome(), extra: 'smuggled' }),
      /GENOME_INVALID_SCHEMA: spec\.genome\.extra/,
    ],
  ];
  it.each(refusals)("refuses %s, and the code is in kubectl's error", async (_name, make, code) => {
    const name = `refused-${Math.random().toString(36).slice(2, 8)}`;
    const out = await applyGenome(name, make());
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/admission webhook "genomes.mathison.io" denied the request/);
    expect(out.stderr).toMatch(code);
    expect(await storedGenome(name)).toBeUndefined();
  });

  it("escapes ESC, CR and bidi controls from a field name in kubectl's error", async () => {
    const out = await applyGenome('escaped', { ...totkGenome(), '\u001b[2J\rVERIFIED\u202e': 1 });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/denied the request: GENOME_INVALID_SCHEMA: spec\.genome\./);
    expect([...out.stderr].filter((c) => '\u001b\r\u202e'.includes(c))).toEqual([]);
    expect(out.stderr).toContain('\\u{1b}[2J\\u{d}VERIFIED\\u{202e}');
    expect(await storedGenome('escaped')).toBeUndefined();
  });

  it('never echoes a private key pasted into public_key', async () => {
    const leaked = bob.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    const g = genome(signedBy(alice));
    const pasted = {
      ...g,
      authority: { ...g.authority, signers: [{ ...g.authority.signers[0]!, public_key: leaked }] },
    };
    const out = await applyGenome('pasted-key', pasted);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(
      /PRIVATE_KEY_EXPOSED: spec\.genome\.authority\.signers\[0\]\.public_key: .*PRIVATE key/,
    );
    expect(out.stderr).not.toContain(leaked.slice(16, 48));
    expect(webhook.output()).not.toContain(leaked.slice(16, 48));
    expect(await storedGenome('pasted-key')).toBeUndefined();
  });

  it('refuses an oversized genome with GENOME_TOO_LARGE', async () => {
    const big = genome(
      signedBy(alice),
      withFields({
        build_manifest: {
          files: Array.from({ length: 12_000 }, (_, i) => ({
            path: `file-${i}.ts`,
            sha256: 'a'.repeat(64),
          })),
        },
      }),
    );
    const out = await kubectl(['create', '-f', '-'], {
      input: JSON.stringify(genomeManifest(big, 'oversized', namespace)),
      allowFailure: true,
    });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/GENOME_TOO_LARGE/);
    expect(await storedGenome('oversized')).toBeUndefined();
  });

  it('refuses a downgrade, and allows it with the annotation', async () => {
    const v = (to: string) => genome(signedBy(alice), version(to));
    expect((await applyGenome('versions', v('2.0.0'))).code).toBe(0);
    const down = await applyGenome('versions', v('1.9.0'));
    expect(down.stderr).toMatch(/GENOME_DOWNGRADE: spec\.genome\.version/);
    expect((await storedGenome('versions'))?.version).toBe('2.0.0');
    const manifest = genomeManifest(v('1.9.0'), 'versions', namespace) as any;
    manifest.metadata.annotations = { 'genome.mathison.io/allow-downgrade': 'true' };
    const allowedDown = await apply(manifest);
    expect(allowedDown.code, allowedDown.stderr).toBe(0);
    expect((await storedGenome('versions'))?.version).toBe('1.9.0');
  });

  it('a server-side dry run is checked and stores nothing', async () => {
    const ok = await applyGenome('dry', totkGenome(), '--dry-run=server');
    expect(ok.code, ok.stderr).toBe(0);
    expect(await storedGenome('dry')).toBeUndefined();
    const refused = await applyGenome(
      'dry',
      { ...totkGenome(), name: 'TAMPERED' },
      '--dry-run=server',
    );
    expect(refused.stderr).toMatch(/GENOME_INVALID_SIGNATURE/);
  });

  it('accepts a genome signed by a key added to a trust Secret, without a restart', async () => {
    const carol = keyPair('carol-key');
    const byCarol = genome(signedBy(carol));
    expect((await applyGenome('carol', byCarol)).stderr).toMatch(/GENOME_UNTRUSTED_SIGNER/);
    await apply(trustSecret(ownNamespace, 'more-keys', { [carol.keyId]: carol.publicKey }));
    const out = await eventually('the new key to be trusted', async () => {
      const result = await applyGenome('carol', byCarol);
      return result.code === 0 ? result : undefined;
    });
    expect(await storedGenome('carol')).toBeDefined();
    expect(out.code).toBe(0);
  });

  it('ignores a private key put in a trust Secret, and says so in a Warning Event', async () => {
    const leaked = alice.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    await apply(trustSecret(ownNamespace, 'leaky', { 'leaked-key': leaked }));
    const event = await eventually('a PrivateKeyInTrustStore event', async () => {
      const out = await kubectl([
        'get',
        'events',
        '-n',
        ownNamespace,
        '--field-selector',
        'reason=PrivateKeyInTrustStore',
        '-o',
        'json',
      ]);
      return JSON.parse(out.stdout).items[0];
    });
    expect(event.involvedObject.name).toBe('leaky');
    expect(event.message).not.toContain(leaked);
    expect(webhook.output()).not.toContain(leaked);
  });

  it('fails closed: with the webhook stopped, no Genome is stored', async () => {
    await webhook.stop();
    const out = await applyGenome('while-down', totkGenome());
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/failed calling webhook/);
    expect(await storedGenome('while-down')).toBeUndefined();
  });
});
