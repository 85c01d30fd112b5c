import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  Watch,
  type V1Secret,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { statusOf } from '../kube/errors.ts';
import { eventually, kubeClient, kubectl, uniqueNamespace } from './support/cluster.ts';
import { PooledKubeConfig } from '../kube/kubeconfig.ts';

const secretYaml = (namespace: string, colour: string) => `
apiVersion: v1
kind: Secret
metadata:
  name: palette
  namespace: ${namespace}
stringData:
  colour: ${colour}
  shape: circle
`;

const decode = (secret: V1Secret, key: string) =>
  Buffer.from(secret.data?.[key] ?? '', 'base64').toString();

/** A KubeConfig for the same cluster that authenticates with a bearer token instead of the admin certificate. */
function tokenClient(admin: KubeConfig, token: string): KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the admin kubeconfig has no current cluster');
  const kc = new PooledKubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'token', token }],
    contexts: [{ name: 'token', cluster: cluster.name, user: 'token' }],
    currentContext: 'token',
  });
  return kc;
}

describe('the local control plane', () => {
  it('creates a namespace that kubectl and client-node both see as Active', async () => {
    const namespace = await uniqueNamespace('ns-check');
    const ns = await kubeClient().makeApiClient(CoreV1Api).readNamespace({ name: namespace });
    expect(ns.status?.phase).toBe('Active');
    const { stdout } = await kubectl([
      'get',
      'namespace',
      namespace,
      '-o',
      'jsonpath={.status.phase}',
    ]);
    expect(stdout).toBe('Active');
  });

  it('stores a Secret applied with kubectl and returns the same data to client-node', async () => {
    const namespace = await uniqueNamespace('secret-roundtrip');
    await kubectl(['apply', '-f', '-'], { input: secretYaml(namespace, 'teal') });
    const secret = await kubeClient()
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: 'palette', namespace });
    expect(decode(secret, 'colour')).toBe('teal');
    expect(decode(secret, 'shape')).toBe('circle');
  });

  it('delivers an update made with kubectl to a client-node watch', async () => {
    const namespace = await uniqueNamespace('secret-watch');
    await kubectl(['apply', '-f', '-'], { input: secretYaml(namespace, 'teal') });
    const kc = kubeClient();
    const current = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: 'palette', namespace });
    let abort: AbortController | undefined;
    const modified = new Promise<V1Secret>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no MODIFIED event within 15 s')), 15_000);
      void new Watch(kc)
        .watch(
          `/api/v1/namespaces/${namespace}/secrets`,
          // From the version we read: only changes made after it arrive.
          {
            fieldSelector: 'metadata.name=palette',
            resourceVersion: current.metadata?.resourceVersion,
          },
          (phase, obj: V1Secret) => {
            if (phase !== 'MODIFIED') return;
            clearTimeout(timer);
            resolve(obj);
          },
          (err) => err && reject(err instanceof Error ? err : new Error(String(err))),
        )
        .then((controller) => (abort = controller), reject);
    });
    try {
      await kubectl(['apply', '-f', '-'], { input: secretYaml(namespace, 'amber') });
      const update = await modified;
      expect(decode(update, 'colour')).toBe('amber');
      expect(update.metadata?.resourceVersion).not.toBe(current.metadata?.resourceVersion);
    } finally {
      abort?.abort();
    }
  });

  it('refuses a service-account token without an RBAC grant with 403, and allows it once a Role is bound', async () => {
    const namespace = await uniqueNamespace('rbac');
    await kubectl(['apply', '-f', '-'], { input: secretYaml(namespace, 'teal') });
    await kubectl(['create', 'serviceaccount', 'reader', '-n', namespace]);
    const { stdout: token } = await kubectl(['create', 'token', 'reader', '-n', namespace]);
    const admin = kubeClient();
    const asReader = tokenClient(admin, token.trim()).makeApiClient(CoreV1Api);

    // 403, not 401: the token authenticates (as the service account) and RBAC refuses it.
    const refusal = await asReader.listNamespacedSecret({ namespace }).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(ApiException);
    expect((refusal as ApiException<string>).code).toBe(403);
    expect(String((refusal as ApiException<string>).body)).toContain(
      `system:serviceaccount:${namespace}:reader`,
    );

    const asAdmin = await admin.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace });
    expect(asAdmin.items.map((s) => s.metadata?.name)).toContain('palette');

    await kubectl([
      'create',
      'role',
      'secret-reader',
      '--verb=list',
      '--resource=secrets',
      '-n',
      namespace,
    ]);
    await kubectl([
      'create',
      'rolebinding',
      'reader',
      '--role=secret-reader',
      `--serviceaccount=${namespace}:reader`,
      '-n',
      namespace,
    ]);
    // The RBAC authorizer reads bindings from an informer, so the grant lands within moments.
    await eventually('the RoleBinding to take effect', async () =>
      (await statusOf(asReader.listNamespacedSecret({ namespace }))) === 200 ? true : undefined,
    );
  });

  it('runs the service-account controller: a new namespace gets its default ServiceAccount', async () => {
    const namespace = await uniqueNamespace('sa-controller');
    const core = kubeClient().makeApiClient(CoreV1Api);
    const sa = await eventually('the default ServiceAccount', () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace }).catch(() => undefined),
    );
    expect(sa.metadata?.namespace).toBe(namespace);
  });

  it('runs the deployment controller and the garbage collector: a Deployment owns a ReplicaSet that goes with it', async () => {
    const namespace = await uniqueNamespace('deployment');
    await kubectl([
      'create',
      'deployment',
      'web',
      '--image=registry.invalid/web:1',
      '-n',
      namespace,
    ]);
    const apps = kubeClient().makeApiClient(AppsV1Api);
    const replicaSet = await eventually('a ReplicaSet for the Deployment', async () => {
      const list = await apps.listNamespacedReplicaSet({ namespace });
      return list.items[0];
    });
    const owner = replicaSet.metadata?.ownerReferences?.[0];
    expect(owner).toMatchObject({ kind: 'Deployment', name: 'web', controller: true });

    await kubectl([
      'delete',
      'deployment',
      'web',
      '-n',
      namespace,
      '--cascade=background',
      '--wait=false',
    ]);
    await eventually('the garbage collector to delete the ReplicaSet', async () => {
      const list = await apps.listNamespacedReplicaSet({ namespace });
      return list.items.length === 0 ? true : undefined;
    });
  });
});
