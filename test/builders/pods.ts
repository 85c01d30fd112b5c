/**
 * Pods for tests, made the way the pod webhook admits them (core/plan-injection.ts), for pods
 * that tests and benchmarks create directly: `pod('web', naming('app'), gated(), mounts(cm))`.
 */
import { GENOME_ID_ANNOTATION, GENOME_LABEL, VERIFIED_READINESS_GATE } from '../../core/api.ts';
import { annotated, build, labelled, type TestMetadata } from './metadata.ts';

/** A container of a test pod. */
export interface TestContainer {
  name: string;
  image: string;
  env?: { name: string; value: string }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

/** A pod as the builders make it. */
export interface TestPod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: TestMetadata & { name: string };
  spec: {
    containers: TestContainer[];
    initContainers?: TestContainer[];
    volumes?: { name: string; configMap: { name: string } }[];
    readinessGates?: { conditionType: string }[];
    schedulingGates?: { name: string }[];
  };
}

/** One part of a pod: `naming('app')`, `gated()`, `mounts(cm)`, ... */
export type PodPart = (pod: TestPod) => TestPod;

const NO_IMAGE = 'genome.local/none:0';

/** Returns the pod `name`, with no containers until `parts` add them. */
export function pod(name: string, ...parts: PodPart[]): TestPod {
  return build<TestPod>(
    { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [] } },
    parts,
  );
}

/** Labelled with the Genome it runs (the label that opts a pod in). */
export const naming = (genome: string): PodPart => labelled({ [GENOME_LABEL]: genome });

/** Annotated with the genome id the webhook admitted it with. */
export const admittedWith = (id: string): PodPart => annotated({ [GENOME_ID_ANNOTATION]: id });

/** With the readiness gate the operator keeps, as the webhook adds it. */
export const gated = (): PodPart => (p) => ({
  ...p,
  spec: { ...p.spec, readinessGates: [{ conditionType: VERIFIED_READINESS_GATE }] },
});

/**
 * With the genome of ConfigMap `configMap` as the webhook injects it: the boot check first, and
 * the genome mounted read-only, with MATHISON_GENOME_PATH, in a container `mathison` placed
 * before the pod's others (which mount nothing).
 */
export const mounts =
  (configMap: string): PodPart =>
  (p) => ({
    ...p,
    spec: {
      ...p.spec,
      initContainers: [{ name: 'genome-verify', image: NO_IMAGE }],
      containers: [
        {
          name: 'mathison',
          image: NO_IMAGE,
          env: [{ name: 'MATHISON_GENOME_PATH', value: '/etc/mathison/genome/genome.json' }],
          volumeMounts: [
            { name: 'mathison-genome', mountPath: '/etc/mathison/genome', readOnly: true },
          ],
        },
        ...p.spec.containers,
      ],
      volumes: [{ name: 'mathison-genome', configMap: { name: configMap } }],
    },
  });

/** With a container `name` running `image`, after the others. */
export const container =
  (name: string, image = NO_IMAGE): PodPart =>
  (p) => ({ ...p, spec: { ...p.spec, containers: [...p.spec.containers, { name, image }] } });

/**
 * Held by a scheduling gate: the pod exists and carries conditions, no kubelet ever runs it, and
 * (unlike a pod bound to a node that does not exist) the pod garbage collector leaves it.
 */
export const held =
  (gate = 'test.genome.mathison.io/hold'): PodPart =>
  (p) => ({ ...p, spec: { ...p.spec, schedulingGates: [{ name: gate }] } });
