import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { InformerEvent, Informer } from './informer.ts';
import type { TrustSource } from './trust-source.ts';
import { keyHoldersVersion, trustView } from './trust-view.ts';
import { keyPair, trusted } from '../test/builders/index.ts';

/** An informer over a map, driven by the test (only what the trust view reads). */
class FakeInformer<T extends KubernetesObject> {
  readonly objects = new Map<string, T>();
  private readonly handlers = new Set<(e: InformerEvent<T>) => void>();
  down: number | undefined;
  get = (key: string) => this.objects.get(key);
  list = () => [...this.objects.values()];
  onChange = (handler: (e: InformerEvent<T>) => void) => {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  };
  healthy = () => this.down === undefined;
  downSince = () => this.down;
  onDownChange = () => {};
  stop = () => Promise.resolve();
  put(object: T) {
    const key = object.metadata?.name ?? '';
    const old = this.objects.get(key);
    this.objects.set(key, object);
    const event: InformerEvent<T> =
      old === undefined ? { type: 'add', object } : { type: 'update', object, old };
    this.handlers.forEach((h) => h(event));
  }
  asInformer = () => this as unknown as Informer<T>;
}

const keys: TrustSource = {
  keys: () => [],
  problems: () => [],
  synced: () => true,
  staleSince: () => undefined,
  onChange: () => () => {},
  stop: () => Promise.resolve(),
};

const policy = (threshold: number, status?: object) => ({
  apiVersion: 'mathison.io/v1alpha1',
  kind: 'GenomeTrustPolicy',
  metadata: { name: 'p', generation: threshold },
  spec: { mode: 'Enforce', threshold },
  ...(status && { status }),
});

function world() {
  const policies = new FakeInformer<KubernetesObject>();
  const namespaces = new FakeInformer<
    KubernetesObject & { metadata: { name?: string; labels?: Record<string, string> } }
  >();
  const view = trustView(keys, policies.asInformer(), namespaces.asInformer(), 10_000);
  let told = 0;
  view.onChange(() => (told += 1));
  return { policies, namespaces, view, told: () => told };
}

describe('trustView', () => {
  it('changes its version and tells on a policy spec change, but not on a status write', () => {
    const w = world();
    w.namespaces.put({ metadata: { name: 'apps', labels: { env: 'dev' } } });
    w.policies.put(policy(1));
    const before = w.view.version('apps');
    const told = w.told();
    w.policies.put(policy(1, { matched: 3 }));
    expect(w.view.version('apps')).toBe(before);
    expect(w.told()).toBe(told);
    expect(w.view.policies()[0]?.status).toEqual({ matched: 3 });
    w.policies.put(policy(2));
    expect(w.view.version('apps')).not.toBe(before);
    expect(w.told()).toBe(told + 1);
  });

  it("knows a namespace's labels only once its watch delivered it; a relabel changes the version", () => {
    const w = world();
    expect(w.view.namespaceLabels('apps')).toBeUndefined();
    w.namespaces.put({ metadata: { name: 'apps', labels: { env: 'dev' } } });
    expect(w.view.namespaceLabels('apps')).toEqual({ env: 'dev' });
    const before = w.view.version('apps');
    w.namespaces.put({ metadata: { name: 'apps', labels: { env: 'production' } } });
    expect(w.view.version('apps')).not.toBe(before);
  });

  it('is stale while the policies or the namespaces are', () => {
    const w = world();
    expect(w.view.synced()).toBe(true);
    w.policies.down = Date.now() - 60_000;
    expect(w.view.synced()).toBe(false);
  });

  it('reads an unreadable stored policy as one that governs everything and is not ready', () => {
    const w = world();
    w.policies.put({ ...policy(1), spec: { mode: 'Sometimes' } } as KubernetesObject);
    const [read] = w.view.policies();
    expect(read).toMatchObject({ name: 'p', spec: { mode: 'Enforce' } });
    expect(read?.problem).toMatch(/cannot be read \(POLICY_INVALID/);
  });
});

describe('keyHoldersVersion', () => {
  const alice = keyPair('alice');
  const bob = keyPair('bob');
  it('is the same for the same keys in any order', () => {
    expect(keyHoldersVersion(trusted(alice, bob))).toBe(keyHoldersVersion(trusted(bob, alice)));
  });
  it('changes when a key is removed, added or marked as a test key', () => {
    const base = keyHoldersVersion(trusted(alice, bob));
    expect(keyHoldersVersion(trusted(alice))).not.toBe(base);
    expect(keyHoldersVersion(trusted(alice, bob, keyPair('carol')))).not.toBe(base);
    expect(keyHoldersVersion(trusted({ ...alice, test: true }, bob))).not.toBe(base);
  });
});
