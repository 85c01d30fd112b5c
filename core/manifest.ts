import { GENOME_API_VERSION, GENOME_KIND } from './crd.ts';
import type { Genome } from './genome.ts';

/** Kubernetes object names: RFC 1123 subdomain. */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Returns why a name is not a valid Kubernetes object name, or undefined when it is. */
export function objectNameProblem(name: string): string | undefined {
  if (name.length > 253) return 'must be at most 253 characters';
  if (!OBJECT_NAME.test(name)) {
    return 'must be lowercase letters, digits, "-" and ".", starting and ending with a letter or digit';
  }
  return undefined;
}

/** Returns the Genome resource that carries a genome, exactly as signed, under spec.genome. */
export function genomeManifest(
  genome: Genome,
  name: string,
  namespace?: string,
): Record<string, unknown> {
  return {
    apiVersion: GENOME_API_VERSION,
    kind: GENOME_KIND,
    metadata: { name, ...(namespace === undefined ? {} : { namespace }) },
    spec: { genome },
  };
}
