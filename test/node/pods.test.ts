// Pods on the real node: scheduling, Running/Ready, logs, exec, ConfigMap volumes, env vars,
// init containers, and the API server through the `kubernetes` Service.
import { beforeAll, describe, expect, it } from 'vitest';
import { kubectl, uniqueNamespace } from '../support/cluster.ts';
import { apply, hasCondition, podOf, readPod, testContainer, waitForPod } from './support.ts';

let ns: string;

beforeAll(async () => {
  ns = await uniqueNamespace('node-pods');
});

describe('a Deployment on the node', () => {
  it('is scheduled, reaches Running and Ready, and kubectl logs and exec reach its container', async () => {
    await apply(ns, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              testContainer('server', [], {
                env: [{ name: 'MESSAGE', value: 'hello from the pod spec' }],
                readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
              }),
            ],
          },
        },
      },
    });
    const name = await podOf(ns, 'web');
    const pod = await waitForPod(ns, name, 'Ready', (p) => hasCondition(p, 'Ready'));
    expect(pod.spec?.nodeName).toBe('genome-node');
    expect(pod.status?.phase).toBe('Running');
    expect(pod.status?.podIP).toMatch(/^198\.18\./);

    const logs = await kubectl(['logs', '-n', ns, name]);
    expect(logs.stdout).toContain('test-server listening on :8080');
    const env = await kubectl(['exec', '-n', ns, name, '--', '/test-server', 'env', 'MESSAGE']);
    expect(env.stdout.trim()).toBe('hello from the pod spec');
  });
});

describe('a ConfigMap volume', () => {
  it('is mounted read-only with the ConfigMap content', async () => {
    await apply(
      ns,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'greeting' },
        data: { 'greeting.txt': 'a genome, some day\n' },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'reader' },
        spec: {
          containers: [
            testContainer('server', [], {
              volumeMounts: [{ name: 'config', mountPath: '/etc/greeting', readOnly: true }],
            }),
          ],
          volumes: [{ name: 'config', configMap: { name: 'greeting' } }],
        },
      },
    );
    await waitForPod(ns, 'reader', 'Running', (p) => p.status?.phase === 'Running');
    const exec = (...args: string[]) =>
      kubectl(['exec', '-n', ns, 'reader', '--', '/test-server', ...args], { allowFailure: true });
    const read = await exec('cat', '/etc/greeting/greeting.txt');
    expect(read.stdout).toBe('a genome, some day\n');
    const write = await exec('write', '/etc/greeting/greeting.txt');
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/read-only file system/);
  });
});

describe('an init container that exits non-zero', () => {
  it('keeps the app container from ever starting', async () => {
    await apply(ns, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'blocked' },
      spec: {
        restartPolicy: 'Never',
        initContainers: [testContainer('init', ['exit', '3'])],
        containers: [testContainer('app')],
      },
    });
    const pod = await waitForPod(ns, 'blocked', 'Failed', (p) => p.status?.phase === 'Failed');
    const init = pod.status?.initContainerStatuses?.[0];
    expect(init?.state?.terminated?.exitCode).toBe(3);
    const app = pod.status?.containerStatuses?.[0];
    expect(app?.state?.running).toBeUndefined();
    expect(app?.state?.terminated?.startedAt).toBeUndefined();
    expect(app?.lastState?.terminated).toBeUndefined();
    // The kubelet never asked the runtime for it: no container ID was ever assigned.
    expect(app?.containerID).toBeUndefined();
    expect((await readPod(ns, 'blocked')).status?.phase).toBe('Failed');
  });
});

describe('a pod with a ServiceAccount token', () => {
  it('reaches the API server through the kubernetes Service', async () => {
    await apply(ns, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client' },
      spec: { containers: [testContainer('server')] },
    });
    await waitForPod(ns, 'client', 'Running', (p) => p.status?.phase === 'Running');
    const version = await kubectl([
      'exec',
      '-n',
      ns,
      'client',
      '--',
      '/test-server',
      'kube-get',
      '/version',
    ]);
    expect(JSON.parse(version.stdout)).toMatchObject({ gitVersion: 'v1.37.2' });
  });
});

describe('pod start-up on the node', () => {
  it('takes a small pod from create to Running in seconds (p50 printed for docs/local-node.md)', async () => {
    const durations: number[] = [];
    for (let i = 0; i < 5; i++) {
      const began = performance.now();
      await apply(ns, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `timed-${i}` },
        spec: { containers: [testContainer('server')] },
      });
      await waitForPod(ns, `timed-${i}`, 'Running', (p) => p.status?.phase === 'Running');
      durations.push(performance.now() - began);
    }
    const sorted = [...durations].sort((a, b) => a - b);
    const p50 = sorted[2]!;
    console.log(
      `pod create → Running: p50 ${(p50 / 1000).toFixed(2)}s, all ${sorted.map((d) => (d / 1000).toFixed(2)).join(' ')}s`,
    );
    expect(p50).toBeLessThan(15_000);
  });
});
