/**
 * Workloads for tests: `deployment('web', optedInto('app'), podsNaming('app'), replicas(2))`.
 * Their pods are selected by the label `run: <name>` and run one container that needs no image.
 */
import { GENOME_LABEL } from '../../core/api.ts';
import { build, labelled, type TestMetadata } from './metadata.ts';

/** A Deployment or StatefulSet as the builders make it. */
export interface TestWorkload {
  apiVersion: 'apps/v1';
  kind: 'Deployment' | 'StatefulSet';
  metadata: TestMetadata & { name: string };
  spec: {
    replicas: number;
    serviceName?: string;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: { containers: { name: string; image: string }[] };
    };
  };
}

/** One part of a workload: `replicas(2)`, `podsNaming('app')`, ... */
export type WorkloadPart = (w: TestWorkload) => TestWorkload;

function workload(kind: TestWorkload['kind'], name: string, parts: WorkloadPart[]): TestWorkload {
  const base: TestWorkload = {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name },
    spec: {
      replicas: 1,
      ...(kind === 'StatefulSet' && { serviceName: name }),
      selector: { matchLabels: { run: name } },
      template: {
        metadata: { labels: { run: name } },
        spec: { containers: [{ name: 'app', image: 'genome.local/none:v1' }] },
      },
    },
  };
  return build(base, parts);
}

/** Returns the Deployment `name` (one replica unless `replicas` says otherwise). */
export const deployment = (name: string, ...parts: WorkloadPart[]): TestWorkload =>
  workload('Deployment', name, parts);

/** Returns the StatefulSet `name`, its service named the same (one replica unless told). */
export const statefulSet = (name: string, ...parts: WorkloadPart[]): TestWorkload =>
  workload('StatefulSet', name, parts);

/** With `n` replicas. */
export const replicas =
  (n: number): WorkloadPart =>
  (w) => ({ ...w, spec: { ...w.spec, replicas: n } });

/** Its pod template's labels name Genome `genome` (the pods run it). */
export const podsNaming =
  (genome: string): WorkloadPart =>
  (w) => {
    const template = w.spec.template;
    const labels = { ...template.metadata.labels, [GENOME_LABEL]: genome };
    return {
      ...w,
      spec: { ...w.spec, template: { ...template, metadata: { ...template.metadata, labels } } },
    };
  };

/** Its own label names Genome `genome`: it opts into that Genome's automatic rollouts. */
export const optedInto = (genome: string): WorkloadPart => labelled({ [GENOME_LABEL]: genome });
