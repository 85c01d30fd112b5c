// Automatic rollouts on real pods: the real operator (under its ServiceAccount) and the real pod
// webhook. A labelled Deployment of the reference Mathison container runs TOTK; a new version
// signed with the repository's TEST key is applied; the operator stamps the template, the
// Deployment rolls, and every running pod ends on the new id, which its /health reports.
// The operator also drives the readiness gate, so this is a true rolling update: the
// Deployment's default strategy waits for new pods to be Ready before it removes old ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENOME_ID_ANNOTATION, GENOME_LABEL } from '../../core/api.ts';
import { genomeId } from '../../core/canonical.ts';
import type { Genome } from '../../core/genome.ts';
import { genomeManifest } from '../../core/manifest.ts';
import { eventually, kubectl } from '../support/cluster.ts';
import { signWith, totkKeyPair, trustSecret } from '../builders/index.ts';
import { healthOf, mathisonContainer, totk } from './genome-fixtures.ts';
import {
  allRunningOn,
  apply,
  genomePublished,
  startGenomeStack,
  stopGenomeStack,
  type GenomeStack,
} from './support.ts';

const signer = totkKeyPair();
const v1 = totk.genome as unknown as Genome;
const v2 = signWith({ ...v1, version: '1.0.1' }, signer);
const [id1, id2] = [genomeId(v1), genomeId(v2)];
const labels = { app: 'mathison', [GENOME_LABEL]: 'mathison' };
const stack: Partial<GenomeStack> = {};
let ns: string;

beforeAll(async () => {
  await startGenomeStack(stack, {
    name: 'rollout',
    secrets: (own) => [
      trustSecret(own, 'trusted-keys', { [signer.keyId]: signer.publicKey }, [signer.keyId]),
    ],
    genome: genomeManifest(v1, 'mathison'),
    genomeName: 'mathison',
    genomeId: id1,
    probe: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'probe', labels },
      spec: { containers: [mathisonContainer()] },
    },
  });
  ns = stack.ns!;
}, 180_000);

afterAll(async () => {
  await stopGenomeStack(stack);
});

describe('a new verified version of a Genome, on real pods', () => {
  it('rolls the labelled Deployment: every pod is replaced by a Ready one on the new id, and /health says so', async () => {
    await apply(ns, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'mathison', labels: { [GENOME_LABEL]: 'mathison' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'mathison' } },
        template: { metadata: { labels }, spec: { containers: [mathisonContainer()] } },
      },
    });
    const before = await allRunningOn(ns, 'app=mathison', id1, 2);
    await apply(ns, genomeManifest(v2, 'mathison'));
    await genomePublished(ns, 'mathison', id2);
    const after = await allRunningOn(ns, 'app=mathison', id2, 2);
    const names = new Set(before.map((p) => p.metadata?.name));
    expect(after.filter((p) => names.has(p.metadata?.name))).toEqual([]);
    for (const pod of after) {
      const health = await eventually(`/health of ${pod.metadata?.name}`, async () =>
        healthOf(kubectl, ns, pod.metadata!.name!).catch(() => undefined),
      );
      const genome = (health.governance as { genome: Record<string, unknown> }).genome;
      expect(genome.genome_id_full).toBe(id2);
      expect(genome.version).toBe('1.0.1');
    }
    const deployment = JSON.parse(
      (await kubectl(['get', 'deployment', 'mathison', '-n', ns, '-o', 'json'])).stdout,
    );
    expect(deployment.spec.template.metadata.annotations[GENOME_ID_ANNOTATION]).toBe(id2);
    expect(deployment.metadata.annotations['deployment.kubernetes.io/revision']).toBe('2');
  });
});
