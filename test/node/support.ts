import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { pickFreePorts } from '../../cluster/ports.ts';
import { GENOME_ID_ANNOTATION, type GenomeResource } from '../../core/api.ts';
import { podWebhookConfiguration } from '../../core/webhook-config.ts';
import { TEST_SERVER_IMAGE } from '../../images/image-definitions.ts';
import {
  eventually,
  installGenomeCrd,
  kubeClient,
  kubectl,
  uniqueNamespace,
} from '../support/cluster.ts';
import {
  operatorCredentials,
  readGenome,
  removeOperatorCredentials,
  startOperator,
  type RunningOperator,
} from '../support/operator.ts';
import { podWebhookAnswers, startWebhook, type RunningWebhook } from '../support/webhook.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** The local name of the test image (imported into the node's containerd; never pulled). */
export const TEST_IMAGE = TEST_SERVER_IMAGE.name;

/** A container running the test image with imagePullPolicy Never, as every node test uses. */
export function testContainer(name: string, args: string[] = [], extra: object = {}): object {
  return { name, image: TEST_IMAGE, imagePullPolicy: 'Never', args, ...extra };
}

/** Applies `objects` (as a List) with kubectl. */
export async function apply(namespace: string, ...objects: object[]): Promise<void> {
  await kubectl(['apply', '-n', namespace, '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
}

/** Reads a pod. */
export async function readPod(namespace: string, name: string): Promise<V1Pod> {
  return kubeClient().makeApiClient(CoreV1Api).readNamespacedPod({ namespace, name });
}

/** Whether the pod's condition `type` is True. */
export function hasCondition(pod: V1Pod, type: string): boolean {
  return pod.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
}

/** Waits until `predicate` holds for the pod, and returns the pod. */
export async function waitForPod(
  namespace: string,
  name: string,
  what: string,
  predicate: (pod: V1Pod) => boolean,
): Promise<V1Pod> {
  return eventually(
    `pod ${namespace}/${name} ${what}`,
    async () => {
      const pod = await readPod(namespace, name).catch(() => undefined);
      return pod && predicate(pod) ? pod : undefined;
    },
    60_000,
  );
}

/** The name of the first pod with label app=`app`, once one exists. */
export async function podOf(namespace: string, app: string): Promise<string> {
  return eventually(`a pod of ${app}`, async () => {
    const list = await kubeClient()
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace, labelSelector: `app=${app}` });
    return list.items[0]?.metadata?.name;
  });
}

/** The host pid of a pod's first container (from crictl), to enter its network namespace. */
export function containerPid(pod: V1Pod): number {
  const id = pod.status?.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '');
  if (!id) throw new Error(`pod ${pod.metadata?.name} has no container yet`);
  const node = inject('node');
  const out = execFileSync(
    join(node.binDir, 'crictl'),
    ['--runtime-endpoint', `unix://${node.containerdSocket}`, 'inspect', '-o', 'json', id],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return (JSON.parse(out) as { info: { pid: number } }).info.pid;
}

/** What `ip route get <address>` says, run in the network namespace of `pid` (or the host's). Sends nothing. */
export function routeGet(address: string, pid?: number): string {
  const args = ['route', 'get', address];
  try {
    return pid === undefined
      ? execFileSync('ip', args, { encoding: 'utf8', stdio: 'pipe' })
      : execFileSync('nsenter', ['-t', String(pid), '-n', '--', 'ip', ...args], {
          encoding: 'utf8',
          stdio: 'pipe',
        });
  } catch (err) {
    return `error: ${(err as { stderr?: string }).stderr?.trim() ?? String(err)}`;
  }
}

/**
 * What a node test that rolls real pods runs: its own namespace for the operator (and the trust
 * Secrets), a namespace for the workload, the real operator under its ServiceAccount, and the
 * real pod webhook, in this process, for that namespace alone.
 */
export interface GenomeStack {
  ownNamespace: string;
  ns: string;
  webhookConfig: string;
  operator?: RunningOperator;
  webhook?: RunningWebhook;
}

/** What startGenomeStack sets up before the pod webhook answers. */
export interface GenomeStackOptions {
  /** Prefix of the workload namespace, and the operator's identity. */
  name: string;
  /** The trust Secrets to apply in the operator's namespace (`namespace` is set here). */
  secrets: (ownNamespace: string) => object[];
  /** The Genome `genomeName` applied and published before the webhook starts. */
  genome: object;
  genomeName: string;
  genomeId: string;
  /** A pod the webhook must inject `genomeId` into once it has the Genome. */
  probe: object;
}

/** Waits until the Genome `ns/name` is Ready with `id` published for its generation; returns it. */
export async function genomePublished(
  ns: string,
  name: string,
  id: string,
  also: (g: GenomeResource) => boolean = () => true,
): Promise<GenomeResource> {
  return eventually(`the Genome to publish ${id.slice(0, 12)}`, async () => {
    const g = await readGenome(ns, name);
    const ready = g?.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'True' &&
      g?.status?.observedGeneration === g?.metadata.generation &&
      g?.status?.genomeId === id &&
      also(g)
      ? g
      : undefined;
  });
}

/** Waits until the pods of `selector` are exactly `count` live pods, all Ready on `id`; returns them. */
export async function allRunningOn(
  ns: string,
  selector: string,
  id: string,
  count: number,
): Promise<V1Pod[]> {
  return eventually(
    `${count} Ready pods on ${id.slice(0, 12)} and no other`,
    async () => {
      const list = await kubeClient()
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: ns, labelSelector: selector });
      const live = list.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
      const running = live.filter(
        (p) => p.metadata?.annotations?.[GENOME_ID_ANNOTATION] === id && hasCondition(p, 'Ready'),
      );
      return live.length === count && running.length === count ? running : undefined;
    },
    120_000,
  );
}

/**
 * Starts a GenomeStack into `stack` (filled as it goes, so stopGenomeStack undoes what started):
 * the trust Secrets, the operator, the Genome published, the pod webhook answering the probe.
 */
export async function startGenomeStack(
  stack: Partial<GenomeStack>,
  options: GenomeStackOptions,
): Promise<GenomeStack> {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  const ownNamespace = (stack.ownNamespace = await uniqueNamespace('genome-system'));
  const ns = (stack.ns = await uniqueNamespace(options.name));
  const webhookConfig = (stack.webhookConfig = `genome-pods-${ns}`);
  await apply(ownNamespace, ...options.secrets(ownNamespace));
  const kubeconfig = await operatorCredentials(ownNamespace);
  stack.operator = await startOperator({
    namespace: ownNamespace,
    kubeconfig,
    identity: options.name,
  });
  await apply(ns, options.genome);
  await genomePublished(ns, options.genomeName, options.genomeId);
  const [port] = await pickFreePorts(1);
  const config = podWebhookConfiguration(webhookConfig, ownNamespace, {
    url: `https://127.0.0.1:${port}/mutate-pod`,
  }) as { webhooks: { namespaceSelector: unknown }[] };
  config.webhooks[0]!.namespaceSelector = { matchLabels: { 'kubernetes.io/metadata.name': ns } };
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(config) });
  stack.webhook = await startWebhook({
    namespace: ownNamespace,
    configName: `unused-${webhookConfig}`,
    port,
    env: { WEBHOOK_MUTATING_CONFIGURATIONS: webhookConfig, GENOME_BOOT_CHECK_PULL_POLICY: 'Never' },
  });
  await podWebhookAnswers(ns, options.probe, options.genomeId);
  return stack as GenomeStack;
}

/** Removes what startGenomeStack started, as far as it got. */
export async function stopGenomeStack(stack: Partial<GenomeStack>): Promise<void> {
  const { ownNamespace, ns, webhookConfig } = stack;
  if (webhookConfig !== undefined)
    await kubectl(['delete', 'mutatingwebhookconfiguration', webhookConfig, '--ignore-not-found'], {
      allowFailure: true,
    });
  if (ns !== undefined)
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=60s'], {
      allowFailure: true,
    });
  await stack.webhook?.stop();
  await stack.operator?.stop();
  if (ownNamespace === undefined) return;
  await kubectl(['delete', 'namespace', ownNamespace, '--wait=false'], { allowFailure: true });
  await removeOperatorCredentials(ownNamespace);
}

/** ctr against the local node's containerd, in the k8s.io namespace: its stdout, or throws. */
export function ctr(args: string[]): string {
  const node = inject('node');
  const run = spawnSync(
    join(node.binDir, 'ctr'),
    ['--address', node.containerdSocket, '-n', 'k8s.io', ...args],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`ctr ${args.join(' ')}: ${run.stderr.trim()}`);
  return run.stdout;
}
