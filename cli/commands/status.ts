/**
 * genome status <genome> [-n ns] [-o json]: explains a Genome's verdict from its status
 * (conditions Verified, Ready, TrustExpiring) and its recent Events, and says what to do.
 * Exits 0 when Verified=True for the current generation, 1 when refused or not verified yet,
 * 2 when the Genome cannot be read (no such Genome, no access, cluster unreachable).
 */
import { CoreV1Api, CustomObjectsApi, type CoreV1Event } from '@kubernetes/client-node';
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
import {
  isVerified,
  statusJson,
  statusText,
  type StatusEvent,
  type StatusFacts,
} from '../status-report.ts';

/** The most recent Events shown. */
const MAX_EVENTS = 10;

const seen = (e: CoreV1Event): string =>
  String(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? '');

function toEvent(e: CoreV1Event): StatusEvent {
  const when = seen(e);
  const date = new Date(when);
  return {
    type: e.type ?? '',
    reason: e.reason ?? '',
    message: e.message ?? '',
    count: e.count ?? e.series?.count ?? 1,
    lastSeen: Number.isNaN(date.getTime()) ? when : date.toISOString(),
  };
}

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
    });
    const uid = genome.metadata?.uid;
    const events = list.items
      .filter(
        (e) =>
          uid === undefined || e.involvedObject.uid === undefined || e.involvedObject.uid === uid,
      )
      .sort((a, b) => seen(a).localeCompare(seen(b)))
      .slice(-MAX_EVENTS)
      .map(toEvent);
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
