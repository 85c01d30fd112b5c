import { CoreV1Api, Health, KubeConfig } from '@kubernetes/client-node';
import { PooledKubeConfig } from '../kube/kubeconfig.ts';

/** Whether the API server of the kubeconfig's current context answers /readyz with 200. */
export async function isClusterReady(
  kubeconfig: string | KubeConfig,
  timeoutMs = 2_000,
): Promise<boolean> {
  const kc = typeof kubeconfig === 'string' ? loadKubeConfig(kubeconfig) : kubeconfig;
  try {
    return await new Health(kc).readyz({ signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    return false;
  }
}

/** A KubeConfig loaded from `path`. */
export function loadKubeConfig(path: string): KubeConfig {
  const kc = new PooledKubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** Whether the `default` ServiceAccount exists in `default`: the controller manager's controllers are running. */
export async function hasDefaultServiceAccount(kc: KubeConfig): Promise<boolean> {
  try {
    await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
    return true;
  } catch {
    return false;
  }
}
