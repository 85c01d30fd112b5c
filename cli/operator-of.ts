/**
 * Where `genome check` looks for the operator's leader Lease when it is not told: the namespace
 * of the Service the Genome webhook's configuration calls (a cluster-scoped object a tenant
 * cannot write), and the chart's Lease name beside it (the Service is <release>-webhook, the
 * Lease <release>). Nothing that a tenant's namespace of some well-known name could answer.
 */
import type { V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { GENOME_WEBHOOK } from './selfcheck-plan.ts';

/** The operator's namespace and Lease as the chart names them, or undefined (a URL webhook). */
export function operatorOf(
  configurations: readonly V1ValidatingWebhookConfiguration[],
): { namespace: string; leaseName: string } | undefined {
  for (const configuration of configurations)
    for (const webhook of configuration.webhooks ?? []) {
      const service = webhook.clientConfig.service;
      if (webhook.name !== GENOME_WEBHOOK || service === undefined) continue;
      const leaseName = service.name.endsWith('-webhook')
        ? service.name.slice(0, -'-webhook'.length)
        : service.name;
      return { namespace: service.namespace, leaseName };
    }
  return undefined;
}
