import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKubeConfig } from './start-up.ts';

const dir = mkdtempSync(join(tmpdir(), 'start-up-'));

/** A kubeconfig file with one cluster, user and context each, named after `name`. */
function kubeconfigFile(name: string, current: boolean): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name, cluster: { server: `https://${name}.example:6443` } }],
      users: [{ name, user: { token: 't' } }],
      contexts: [{ name, context: { cluster: name, user: name } }],
      ...(current && { 'current-context': name }),
    }),
  );
  return path;
}

describe('loadKubeConfig', () => {
  it('loads a kubeconfig file and its current cluster', () => {
    const kc = loadKubeConfig(kubeconfigFile('one', true));
    expect(kc.getCurrentCluster()?.server).toBe('https://one.example:6443');
  });

  it('merges a KUBECONFIG list in order: the first file that names a current context sets it', () => {
    const list = [
      kubeconfigFile('a', false),
      kubeconfigFile('b', true),
      kubeconfigFile('c', true),
    ].join(delimiter);
    const kc = loadKubeConfig(list);
    expect(kc.getCurrentCluster()?.server).toBe('https://b.example:6443');
    expect(kc.getClusters().map((c) => c.name)).toEqual(['a', 'b', 'c']);
  });

  it('refuses a kubeconfig that names no current cluster, or does not load', () => {
    expect(() => loadKubeConfig(kubeconfigFile('none', false))).toThrow(
      /the kubeconfig has no current cluster \(set current-context\)/,
    );
    expect(() => loadKubeConfig(join(dir, 'absent.yaml'))).toThrow(/cannot load the kubeconfig/);
  });
});
