/**
 * A Genome create with dryRun=All (nothing is stored), answered by the API server and the
 * webhook: what `genome check` and the chart's self-check (cmd/genome-selfcheck.ts) ask.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GENOME_GROUP, GENOME_KIND, GENOME_PLURAL, GENOME_VERSION } from '../core/api.ts';
import { statusCode } from '../kube/errors.ts';
import type { CreateAnswer } from './selfcheck-plan.ts';

/** Creates a Genome holding `genome` in `namespace` with dryRun=All; its answer, never a throw. */
export async function dryRunCreateGenome(
  objects: CustomObjectsApi,
  namespace: string,
  genome: Record<string, unknown>,
  generateName: string,
): Promise<CreateAnswer> {
  try {
    await objects.createNamespacedCustomObject({
      group: GENOME_GROUP,
      version: GENOME_VERSION,
      plural: GENOME_PLURAL,
      namespace,
      dryRun: 'All',
      body: {
        apiVersion: `${GENOME_GROUP}/${GENOME_VERSION}`,
        kind: GENOME_KIND,
        metadata: { generateName },
        spec: { genome },
      },
    });
    return { admitted: true };
  } catch (err) {
    return { admitted: false, code: statusCode(err), message: answerMessage(err) };
  }
}

/** The API server's Status message of a refused request, or the error's own. */
function answerMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body !== 'string') return err instanceof Error ? err.message : String(err);
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}
