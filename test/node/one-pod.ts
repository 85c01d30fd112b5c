import { CoreV1Api } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../cluster/readiness.ts';
import { TEST_SERVER_IMAGE } from '../../images/image-definitions.ts';

/** Creates one pod of the test image in `default` and waits until it runs (for the clean-up tests). */
export async function runOnePod(kubeconfigPath: string, timeoutMs = 60_000): Promise<void> {
  const api = loadKubeConfig(kubeconfigPath).makeApiClient(CoreV1Api);
  await api.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name: 'leftover-check' },
      spec: {
        containers: [{ name: 'server', image: TEST_SERVER_IMAGE.name, imagePullPolicy: 'Never' }],
      },
    },
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pod = await api.readNamespacedPod({ namespace: 'default', name: 'leftover-check' });
    if (pod.status?.phase === 'Running') return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`pod default/leftover-check not Running after ${timeoutMs / 1000}s`);
}
