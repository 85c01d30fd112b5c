import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { TEST_SERVER_IMAGE } from '../../images/image-definitions.ts';
import { eventually, kubeClient, kubectl } from '../support/cluster.ts';

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
