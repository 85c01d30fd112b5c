// Production boot on real pods: the genome's build manifest checked against the pod's own image
// before the application starts (issue 23). The real operator and pod webhook; the production
// sample genome (genomes/MATHISON_REFERENCE_v1.0.0) pins three files of the reference image. A
// production-mode pod of that image boots and turns Ready; a pod of an image that differs in
// one pinned file never starts its application (the boot check's termination message has the
// code, path, both short hashes and the image; the gate stays False; the Genome gets a Warning
// Event naming the pod and the image); a development-mode pod of that image is unaffected.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENOME_LABEL, VERIFIED_READINESS_GATE } from '../../core/api.ts';
import { genomeId } from '../../core/canonical.ts';
import type { Genome } from '../../core/genome.ts';
import { genomeManifest } from '../../core/manifest.ts';
import { MATHISON_REFERENCE_IMAGE } from '../../images/image-definitions.ts';
import {
  ensureTamperedReferenceImage,
  TAMPERED_PATH,
  TAMPERED_REFERENCE_IMAGE,
} from '../../images/tampered-image.ts';
import { totkKeyPair, trustSecret } from '../builders/index.ts';
import { eventually, kubeClient } from '../support/cluster.ts';
import { mathisonContainer } from './genome-fixtures.ts';
import {
  ctr,
  apply,
  hasCondition,
  startGenomeStack,
  stopGenomeStack,
  type GenomeStack,
} from './support.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const SAMPLE = join(ROOT, 'genomes', 'MATHISON_REFERENCE_v1.0.0', 'genome.json');
const sample = JSON.parse(readFileSync(SAMPLE, 'utf8')) as Genome;
const id = genomeId(sample);
const signer = totkKeyPair();
/** The pinned file the other image changes (images/tampered-image.ts). */
const CHANGED = TAMPERED_PATH;
const TAMPERED = TAMPERED_REFERENCE_IMAGE;
const stack: Partial<GenomeStack> = {};
let ns: string;
let imported = false;
const core = () => kubeClient().makeApiClient(CoreV1Api);

let hashes: { before: string; after: string };

const PRODUCTION = [
  { name: 'MATHISON_ENV', value: 'production' },
  { name: 'MATHISON_REPO_ROOT', value: '/app' },
];

const labelledPod = (name: string, container: object) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: name, [GENOME_LABEL]: 'reference' } },
  spec: { containers: [container] },
});

beforeAll(async () => {
  const tampered = await ensureTamperedReferenceImage();
  hashes = tampered;
  ctr(['images', 'import', '--platform', 'linux/amd64', tampered.archive]);
  imported = true;
  await startGenomeStack(stack, {
    name: 'manifest-boot',
    secrets: (own) => [
      trustSecret(own, 'trusted-keys', { [signer.keyId]: signer.publicKey }, [signer.keyId]),
    ],
    genome: genomeManifest(sample, 'reference'),
    genomeName: 'reference',
    genomeId: id,
    probe: labelledPod('probe', mathisonContainer()),
  });
  ns = stack.ns!;
}, 300_000);

afterAll(async () => {
  await stopGenomeStack(stack);
  if (imported) ctr(['images', 'rm', TAMPERED]);
});

async function readyPod(name: string): Promise<V1Pod> {
  return eventually(
    `pod ${name} Ready`,
    async () => {
      const pod = await core().readNamespacedPod({ namespace: ns, name });
      return hasCondition(pod, 'Ready') ? pod : undefined;
    },
    120_000,
  );
}

const gateOf = (pod: V1Pod) =>
  pod.status?.conditions?.find((c) => c.type === VERIFIED_READINESS_GATE);

describe('the build manifest checked against the pod’s own image', () => {
  it('boots a production-mode pod whose image holds what the genome pins, and it turns Ready', async () => {
    await apply(ns, labelledPod('matching', mathisonContainer({ env: PRODUCTION })));
    const pod = await readyPod('matching');
    const volume = pod.spec?.volumes?.find((v) => v.image !== undefined);
    expect(volume?.image?.reference).toBe(MATHISON_REFERENCE_IMAGE.name);
    const check = pod.status?.initContainerStatuses?.find((c) => c.name === 'genome-verify');
    expect(check?.state?.terminated?.exitCode).toBe(0);
    expect(gateOf(pod)?.status).toBe('True');
  });

  it('never starts the application of a pod whose image differs in one pinned file', async () => {
    const image = TAMPERED;
    await apply(ns, labelledPod('tampered', mathisonContainer({ image, env: PRODUCTION })));
    const pod = await eventually(
      'the tampered pod refused by its boot check, its gate False',
      async () => {
        const p = await core().readNamespacedPod({ namespace: ns, name: 'tampered' });
        const check = p.status?.initContainerStatuses?.find((c) => c.name === 'genome-verify');
        const terminated = check?.state?.terminated ?? check?.lastState?.terminated;
        return terminated?.exitCode === 1 && gateOf(p)?.status === 'False' ? p : undefined;
      },
      120_000,
    );
    const check = pod.status!.initContainerStatuses!.find((c) => c.name === 'genome-verify')!;
    const message = (check.state?.terminated ?? check.lastState?.terminated)!.message ?? '';
    const line = JSON.parse(message);
    expect(line).toMatchObject({
      code: 'GENOME_MANIFEST_MISMATCH',
      container: 'mathison',
      image: TAMPERED,
      path: CHANGED,
      expected: hashes.before.slice(0, 12),
      actual: hashes.after.slice(0, 12),
    });
    // The application never ran.
    const app = pod.status?.containerStatuses?.find((c) => c.name === 'mathison');
    expect(app?.state?.running).toBeUndefined();
    expect(app?.lastState?.terminated).toBeUndefined();
    expect(hasCondition(pod, 'Ready')).toBe(false);
    expect(gateOf(pod)?.reason).toBe('GENOME_MANIFEST_MISMATCH');
    const event = await eventually('a Warning Event on the Genome', async () => {
      const events = await core().listNamespacedEvent({
        namespace: ns,
        fieldSelector: 'involvedObject.kind=Genome,involvedObject.name=reference',
      });
      return events.items.find((e) => e.reason === 'GENOME_MANIFEST_MISMATCH');
    });
    expect(event.type).toBe('Warning');
    expect(event.message).toContain(`pod ${ns}/tampered`);
    expect(event.message).toContain(TAMPERED);
    expect(event.message).toContain(CHANGED);
  });

  it('leaves a development-mode pod of the same image unaffected: no image volume, it runs', async () => {
    const image = TAMPERED;
    await apply(ns, labelledPod('development', mathisonContainer({ image })));
    const pod = await readyPod('development');
    expect(pod.spec?.volumes?.filter((v) => v.image !== undefined)).toEqual([]);
    expect(gateOf(pod)?.status).toBe('True');
  });
});
