/**
 * The pod admission of bench/webhook.bench.ts: a verified Genome as the webhook's informer cache
 * holds it (the API server's object, status written by the operator), and a labelled pod as a
 * Deployment's ReplicaSet creates it, after the API server's defaulting (what a mutating
 * webhook receives).
 */
import { configMapView, genomeView } from '../core/publication.ts';
import { publishedGenome, totkGenome } from '../test/builders/index.ts';
import type { PublishedCaches } from '../webhook/mutate-pod.ts';

export const BENCH_NAMESPACE = 'bench';
export const BENCH_GENOME = 'totk';

/** The TOTK Genome, verified and published, and its ConfigMap, as the API server stores them. */
export function verifiedGenome() {
  return publishedGenome({ name: BENCH_GENOME, namespace: BENCH_NAMESPACE, genome: totkGenome() });
}

/** Caches holding that one Genome and its ConfigMap, synced (as main.ts's informers hold them). */
export function benchGenomeCache(): PublishedCaches {
  const published = verifiedGenome();
  const genomes = new Map([[`${BENCH_NAMESPACE}/${BENCH_GENOME}`, genomeView(published.genome)]]);
  const configMaps = new Map([
    [`${BENCH_NAMESPACE}/${published.configMapName}`, configMapView(published.configMap)],
  ]);
  return {
    genomes: { get: (key) => genomes.get(key), synced: () => true },
    configMaps: { get: (key) => configMaps.get(key), synced: () => true },
  };
}

/** The AdmissionReview of a labelled pod's CREATE (a Deployment's pod, defaulted). */
export function podReview(uid: number): string {
  const name = `mathison-7d9f8b6c5d-x${uid.toString(36).padStart(4, '0')}`;
  const container = {
    name: 'mathison',
    image: 'genome.local/mathison-reference:v1',
    imagePullPolicy: 'IfNotPresent',
    ports: [{ name: 'http', containerPort: 3000, protocol: 'TCP' }],
    readinessProbe: {
      httpGet: { path: '/health', port: 3000, scheme: 'HTTP' },
      periodSeconds: 1,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    securityContext: {
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    volumeMounts: [
      {
        name: 'kube-api-access-abcde',
        readOnly: true,
        mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
      },
    ],
  };
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'mathison-7d9f8b6c5d-',
      namespace: BENCH_NAMESPACE,
      labels: {
        app: 'mathison',
        'genome.mathison.io/genome': BENCH_GENOME,
        'pod-template-hash': '7d9f8b6c5d',
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'mathison-7d9f8b6c5d',
          uid: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      volumes: [
        {
          name: 'kube-api-access-abcde',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              {
                configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
              },
              {
                downwardAPI: {
                  items: [
                    {
                      path: 'namespace',
                      fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' },
                    },
                  ],
                },
              },
            ],
          },
        },
      ],
      containers: [container],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {},
  };
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${uid}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      name,
      namespace: BENCH_NAMESPACE,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: '9c8b7a6d-5e4f-4321-8765-43210fedcba9',
        groups: [
          'system:serviceaccounts',
          'system:serviceaccounts:kube-system',
          'system:authenticated',
        ],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  });
}
