/**
 * The operator against Genomes a hostile tenant stores where the validating webhook is not
 * consulted (its own namespace, an install window, break glass): none of them crashes or wedges
 * the operator, each is refused with a code in its status, and one Genome's verdict never
 * decides another's. No webhook is registered here, so the API server stores what it accepts.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorHealth } from '../cluster/operator-process.ts';
import { genomeManifest } from '../core/manifest.ts';
import type { Genome } from '../core/genome.ts';
import {
  declaring,
  genome,
  keyPair,
  named,
  signedBy,
  signWith,
  trustSecret,
  withFields,
} from './builders/index.ts';
import { eventually, installGenomeCrd, kubectl, uniqueNamespace } from './support/cluster.ts';
import {
  conditionOf,
  endOperatorTest,
  operatorCredentials,
  readGenome,
  startOperator,
  type RunningOperator,
} from './support/operator.ts';

const ROOT = join(import.meta.dirname, '..');
const alice = keyPair('alice-key');
const bob = keyPair('bob-key');
let ownNamespace: string;
let victim: string;
let tenant: string;
let operator: RunningOperator;

/**
 * Creates an object from its JSON text (or the object) through a file: large bodies do not fit
 * an argument.
 */
async function create(object: unknown, allowFailure = false) {
  const file = join(mkdtempSync(join(tmpdir(), 'hostile-')), 'object.json');
  writeFileSync(file, typeof object === 'string' ? object : JSON.stringify(object));
  return kubectl(['create', '-f', file], { allowFailure });
}

async function verifiedCondition(namespace: string, name: string) {
  return eventually(`${namespace}/${name} to have a Verified condition`, async () => {
    const genome = await readGenome(namespace, name);
    const c = genome?.status?.conditions?.find((x) => x.type === 'Verified');
    return c !== undefined && genome?.status?.observedGeneration === genome?.metadata.generation
      ? { ...c, status: c.status, genome }
      : undefined;
  });
}

/** The operator is alive and ready, and a good Genome created now still becomes Verified. */
async function stillWorking(name: string) {
  expect(operator.exitCode()).toBeNull();
  expect((await operatorHealth(operator.port, '/readyz')).status).toBe(200);
  await create(genomeManifest(genome(signedBy(alice)), name, victim));
  const c = await verifiedCondition(victim, name);
  expect(c.status).toBe('True');
}

/**
 * The JSON text of a Genome whose valid genome has an unknown field nested `depth` levels deep
 * (written as text: JSON.stringify itself cannot serialize it).
 */
function nestedManifest(name: string, namespace: string, depth: number): string {
  const manifest = genomeManifest(genome(signedBy(alice)), name, namespace);
  const text = JSON.stringify(manifest);
  const deep = `${'{"d":'.repeat(depth)}"bottom"${'}'.repeat(depth)}`;
  // The manifest ends with the genome's, the spec's and its own closing braces.
  return `${text.slice(0, -3)},"x_deep":${deep}}}}`;
}

beforeAll(async () => {
  ownNamespace = await uniqueNamespace('genome-system');
  victim = await uniqueNamespace('victim');
  tenant = await uniqueNamespace('tenant');
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  const keys = { [alice.keyId]: alice.publicKey, [bob.keyId]: bob.publicKey };
  await create(trustSecret(ownNamespace, 'trusted-keys', keys, [bob.keyId]));
  const kubeconfig = await operatorCredentials(ownNamespace);
  operator = await startOperator({
    namespace: ownNamespace,
    kubeconfig,
    identity: 'operator-hostile',
    args: ['--production=true'],
  });
}, 120_000);

afterAll(() => endOperatorTest(operator, ownNamespace, [victim, tenant]));

describe('one Genome, one verdict: copies of the same content never share one', () => {
  const good = genome(declaring(alice, bob), signedBy(alice), named('SHARED'));
  const garbage: Genome = {
    ...good,
    signature: { ...good.signature!, sig_base64: `${'A'.repeat(86)}==` },
  };

  it("a copy with a garbage signature is refused although the victim's good one is Verified", async () => {
    await create(genomeManifest(good, 'shared', victim));
    expect((await verifiedCondition(victim, 'shared')).status).toBe('True');
    await create(genomeManifest(garbage, 'copy', tenant));
    const copy = await verifiedCondition(tenant, 'copy');
    expect(copy).toMatchObject({ status: 'False', reason: 'GENOME_INVALID_SIGNATURE' });
    expect(copy.genome!.status?.configMapName).toBeUndefined();
  });

  it("a tenant's copy signed only by a test key does not get the victim's production Genome refused", async () => {
    const byTestKey = genome(declaring(alice, bob), signedBy(bob), named('PROD'));
    const byProdKey = genome(declaring(alice, bob), signedBy(alice), named('PROD'));
    // The tenant's copy first, so that a shared verdict would decide the victim's.
    await create(genomeManifest(byTestKey, 'prod-copy', tenant));
    const copy = await verifiedCondition(tenant, 'prod-copy');
    expect(copy).toMatchObject({ status: 'False', reason: 'GENOME_TEST_KEY_IN_PRODUCTION' });
    await create(genomeManifest(byProdKey, 'prod', victim));
    const own = await verifiedCondition(victim, 'prod');
    expect(own.status).toBe('True');
    expect(own.genome!.status?.verifiedSigners).toEqual([alice.keyId]);
  });
});

describe('published names cannot collide', () => {
  it(
    'totk.v1 and totk-v1 in one namespace publish two ConfigMaps; deleting one leaves the other in place',
    { timeout: 120_000 },
    async () => {
      const signed = genome(signedBy(alice), named('NAMES'));
      await create(genomeManifest(signed, 'totk.v1', victim));
      await create(genomeManifest(signed, 'totk-v1', victim));
      const dotted = await verifiedCondition(victim, 'totk.v1');
      const dashed = await verifiedCondition(victim, 'totk-v1');
      expect([dotted.status, dashed.status]).toEqual(['True', 'True']);
      const names = [dotted, dashed].map((c) => c.genome!.status?.configMapName);
      expect(new Set(names).size).toBe(2);
      await kubectl(['delete', 'gn', 'totk.v1', '-n', victim, '--wait=true']);
      await eventually(
        "the deleted Genome's ConfigMap to be collected",
        async () => {
          const r = await kubectl(['get', 'cm', names[0]!, '-n', victim], { allowFailure: true });
          return r.code !== 0 ? true : undefined;
        },
        60_000, // the controller manager's garbage collector; under load it takes a while
      );
      const left = await kubectl(['get', 'cm', names[1]!, '-n', victim, '-o', 'json']);
      expect(JSON.parse(left.stdout).metadata.ownerReferences[0].uid).toBe(
        dashed.genome!.metadata.uid,
      );
    },
  );
});

describe('hostile Genomes stored without the webhook', () => {
  it('a Genome nested 5,000 levels deep is refused with a code, and the operator keeps working', async () => {
    const result = await create(nestedManifest('deep', tenant, 5_000), true);
    expect(result.code, result.stderr).toBe(0);
    const deep = await verifiedCondition(tenant, 'deep');
    expect(deep).toMatchObject({ status: 'False', reason: 'GENOME_INVALID_SCHEMA' });
    await stillWorking('after-deep');
  });

  it('after a restart with the deep Genome stored, the operator syncs and verifies again', async () => {
    await operator.stop();
    operator = await startOperator({
      namespace: ownNamespace,
      kubeconfig: await operatorCredentials(ownNamespace),
      identity: 'operator-hostile-2',
      args: ['--production=true'],
    });
    await stillWorking('after-restart');
  });

  it('a genome over the size limit that the API server stores is refused GENOME_TOO_LARGE', async () => {
    const big = genome(
      declaring(alice),
      withFields({
        invariants: Array.from({ length: 1_100 }, (_, i) => ({
          id: `INV-${i}`,
          severity: 'HIGH' as const,
          testable_claim: 'x'.repeat(1_000),
          enforcement_hook: 'hook',
        })),
      }),
    );
    const result = await create(genomeManifest(signWith(big, alice), 'big', tenant), true);
    expect(result.code, result.stderr).toBe(0);
    expect(await verifiedCondition(tenant, 'big')).toMatchObject({
      status: 'False',
      reason: 'GENOME_TOO_LARGE',
    });
    await stillWorking('after-big');
  });

  it('a 3 MB Genome is refused by the API server itself, before any cache sees it', async () => {
    const huge = { ...genome(declaring(alice)), x_pad: 'x'.repeat(3 * 1024 * 1024) };
    const result = await create(genomeManifest(huge as Genome, 'huge', tenant), true);
    expect(result.code).not.toBe(0);
    await stillWorking('after-huge');
  });

  it('values of any type where the CRD keeps unknown fields are refused with a code', async () => {
    const wrong = { ...genome(signedBy(alice)), x_unknown: [1, { a: null }, 'z'] };
    await create(genomeManifest(wrong as Genome, 'wrong', tenant));
    expect(await verifiedCondition(tenant, 'wrong')).toMatchObject({
      status: 'False',
      reason: 'GENOME_INVALID_SCHEMA',
    });
    await stillWorking('after-wrong');
  });

  it('a genome missing required fields or with wrong types is refused by the API server (the CRD)', async () => {
    const empty = await create(genomeManifest({} as Genome, 'empty', tenant), true);
    expect(empty.code).not.toBe(0);
    const typed = { ...genome(declaring(alice)), invariants: 'none' };
    const wrong = await create(genomeManifest(typed as unknown as Genome, 'typed', tenant), true);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/invariants/);
  });

  it('a non-object spec.genome is refused by the API server (the CRD says object)', async () => {
    const manifest = { ...genomeManifest({} as Genome, 'scalar', tenant), spec: { genome: 'x' } };
    const result = await create(manifest, true);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/spec\.genome/);
    await conditionOf(tenant, 'scalar', 'Verified').then((c) => expect(c).toBeUndefined());
  });
});
