/**
 * genome status <genome> [-n ns] [-o json]: explains a Genome's verdict from its status
 * (conditions Verified, Ready, TrustExpiring) and its recent Events, and says what to do.
 * Exits 0 when Verified=True for the current generation, 1 when refused or not verified yet,
 * 2 when the Genome cannot be read (no such Genome, no access, cluster unreachable).
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import {
  GENOME_GROUP,
  GENOME_KIND,
  GENOME_PLURAL,
  GENOME_VERSION,
  type GenomeResource,
} from '../../core/api.ts';
import { displayText } from '../../core/display.ts';
import { outputFormat, type Command, type Invocation } from '../command.ts';
import { apiErrorText, KUBE_FLAGS, KUBE_OPTIONS, loadKubeConfig, namespaceOf } from '../cluster.ts';
import { usage } from '../io.ts';
import { recentEvents } from '../status-events.ts';
import { isVerified, statusJson, statusText, type StatusFacts } from '../status-report.ts';

/** The most recent Events shown, and the most listed (a namespace's own may be many). */
const MAX_EVENTS = 10;
const MAX_LISTED_EVENTS = 1000;

async function read(invocation: Invocation, name: string): Promise<StatusFacts> {
  const kc = loadKubeConfig(invocation);
  const namespace = namespaceOf(kc, invocation.values.namespace);
  const where = `Genome ${displayText(namespace)}/${displayText(name)}`;
  try {
    const objects = kc.makeApiClient(CustomObjectsApi);
    const genome = (await objects.getNamespacedCustomObject({
      group: GENOME_GROUP,
      version: GENOME_VERSION,
      plural: GENOME_PLURAL,
      namespace,
      name,
    })) as GenomeResource;
    const list = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.kind=${GENOME_KIND},involvedObject.name=${name}`,
      // Bounded whatever a tenant writes: the operator aggregates its own Events per reason.
      limit: MAX_LISTED_EVENTS,
    });
    const events = recentEvents(list.items, genome.metadata?.uid, MAX_EVENTS);
    return { genome, events };
  } catch (err) {
    throw new Error(`cannot read ${where}: ${apiErrorText(err)}`, { cause: err });
  } finally {
    await kc.closeConnections();
  }
}

async function run(invocation: Invocation): Promise<number> {
  const [name, ...extra] = invocation.positionals;
  if (name === undefined || name === '' || extra.length > 0) usage(invocation.usageLine);
  const format = outputFormat(invocation);
  const facts = await read(invocation, name);
  process.stdout.write(format === 'json' ? statusJson(facts) : statusText(facts));
  return isVerified(facts.genome) ? 0 : 1;
}

export const statusCommand: Command = {
  name: 'status',
  summary: "explain a Genome's verdict from its status and Events, and what to do",
  synopsis: '<genome> [-n <namespace>] [-o text|json] [--kubeconfig <file>] [--context <name>]',
  description: [
    "Reads the Genome's status (the Verified, Ready and TrustExpiring conditions: reason, message,",
    'the generation they are of) and its recent Events, and says what each refusal code means and',
    'what to do. Exit 0 when Verified=True for the current generation, 1 when refused or not yet',
    'verified, 2 when it cannot be read (no such Genome, no access, cluster unreachable).',
  ],
  flags: [
    "  -n, --namespace <ns>      the Genome's namespace (else the context's, else default)",
    '  -o, --output text|json    text (default) or one JSON document on stdout',
    ...KUBE_FLAGS,
  ],
  options: {
    namespace: { type: 'string', short: 'n' },
    output: { type: 'string', short: 'o' },
    ...KUBE_OPTIONS,
  },
  run,
};
