import type { KubernetesObject } from '@kubernetes/client-node';
import { ApiException } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startInformerWith, type Informer, type InformerEvent } from './informer.ts';
import type { ListWatchClient, ObjectList, Query, WatchEvent } from './list-watch-client.ts';

const obj = (name: string, rv: string, namespace = 'ops'): KubernetesObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, resourceVersion: rv },
});

interface FakeWatch {
  query: Query;
  send(event: WatchEvent): void;
  close(): void;
  fail(err: Error): void;
  aborted: boolean;
}

/** A list/watch client whose answers the test scripts: lists from a queue, watches by hand. */
function fakeClient() {
  const lists: (ObjectList | Error)[] = [];
  const listQueries: Query[] = [];
  const watches: FakeWatch[] = [];
  const watchFailures: Error[] = [];
  const client: ListWatchClient = {
    list: async (query) => {
      listQueries.push(query);
      const next = lists.length > 1 ? lists.shift() : lists[0];
      if (next === undefined) throw new Error('no list scripted');
      if (next instanceof Error) throw next;
      return next;
    },
    watch: async (query, onEvent) => {
      const failure = watchFailures.shift();
      if (failure) throw failure;
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const ended = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      const w: FakeWatch = {
        query,
        send: onEvent,
        close: resolve,
        fail: reject,
        aborted: false,
      };
      watches.push(w);
      return {
        ended,
        abort: () => {
          w.aborted = true;
          reject(new Error('aborted'));
        },
      };
    },
  };
  return { client, lists, listQueries, watches, watchFailures };
}

const list = (rv: string, ...items: KubernetesObject[]): ObjectList => ({
  metadata: { resourceVersion: rv },
  items,
});

async function eventually(probe: () => boolean, ms = 3000): Promise<void> {
  for (const deadline = Date.now() + ms; !probe();) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

let informer: Informer<KubernetesObject> | undefined;
afterEach(async () => {
  await informer?.stop();
  informer = undefined;
});

const fast = { initialMs: 5, maxMs: 20 };

describe('the informer', () => {
  it('lists, then applies added, modified and deleted objects from the watch, telling each', async () => {
    const fake = fakeClient();
    fake.lists.push(list('10', obj('a', '10')));
    informer = startInformerWith(fake.client, { path: '/x', backoff: fast });
    const seen: string[] = [];
    informer.onChange((e: InformerEvent<KubernetesObject>) =>
      seen.push(`${e.type} ${e.object.metadata?.name}@${e.object.metadata?.resourceVersion}`),
    );
    expect(await informer.waitForSync(1000)).toBe(true);
    expect(informer.get('ops/a')?.metadata?.resourceVersion).toBe('10');
    await eventually(() => fake.watches.length === 1);
    const w = fake.watches[0] as FakeWatch;
    expect(w.query).toMatchObject({ resourceVersion: '10', allowWatchBookmarks: true });
    w.send({ type: 'ADDED', object: obj('b', '11') });
    w.send({ type: 'MODIFIED', object: obj('a', '12') });
    w.send({ type: 'DELETED', object: obj('b', '13') });
    expect(seen.slice(-3)).toEqual(['add b@11', 'update a@12', 'delete b@13']);
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['a']);
    expect(informer.resourceVersion()).toBe('13');
  });

  it('caches what the transform keeps, from lists and from watch events', async () => {
    const fake = fakeClient();
    const big = (name: string, rv: string) => ({
      ...obj(name, rv),
      data: { blob: 'x'.repeat(1000) },
    });
    fake.lists.push(list('10', big('a', '10')));
    informer = startInformerWith(fake.client, {
      path: '/x',
      backoff: fast,
      transform: ({ metadata }) => ({ metadata }),
    });
    const seen: KubernetesObject[] = [];
    informer.onChange((e) => seen.push(e.object));
    expect(await informer.waitForSync(1000)).toBe(true);
    await eventually(() => fake.watches.length === 1);
    (fake.watches[0] as FakeWatch).send({ type: 'MODIFIED', object: big('a', '11') });
    (fake.watches[0] as FakeWatch).send({ type: 'ADDED', object: big('b', '12') });
    expect(informer.list()).toEqual([
      { metadata: { name: 'a', namespace: 'ops', resourceVersion: '11' } },
      { metadata: { name: 'b', namespace: 'ops', resourceVersion: '12' } },
    ]);
    expect(seen.every((o) => !('data' in o))).toBe(true);
    expect(informer.resourceVersion()).toBe('12');
  });

  it('never lets a transform that throws stop it: the object is cached by its identity alone, from lists and watches', async () => {
    const fake = fakeClient();
    const poison = (name: string, rv: string) => ({ ...obj(name, rv), poison: true });
    fake.lists.push(list('10', obj('a', '10'), poison('p', '10')));
    informer = startInformerWith(fake.client, {
      path: '/x',
      backoff: fast,
      transform: (o) => {
        if ('poison' in o) throw new RangeError('Maximum call stack size exceeded');
        return o;
      },
    });
    expect(await informer.waitForSync(1000)).toBe(true);
    expect(informer.get('ops/p')).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'p', namespace: 'ops', resourceVersion: '10' },
    });
    await eventually(() => fake.watches.length === 1);
    const w = fake.watches[0] as FakeWatch;
    w.send({ type: 'ADDED', object: poison('q', '11') });
    w.send({ type: 'ADDED', object: obj('b', '12') });
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['a', 'p', 'q', 'b']);
    expect(w.aborted).toBe(false);
    expect(informer.healthy(1000)).toBe(true);
  });

  it('restarts a watch whose request is never answered (no headers), reporting it down', async () => {
    const fake = fakeClient();
    fake.lists.push(list('10', obj('a', '10')));
    let asked = 0;
    fake.client.watch = (_query, _onEvent, signal) => {
      asked += 1;
      return new Promise((_resolve, reject) =>
        signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    };
    informer = startInformerWith(fake.client, { path: '/x', backoff: fast, stallAfterMs: 300 });
    expect(await informer.waitForSync(1000)).toBe(true);
    await eventually(() => informer?.downSince() !== undefined, 2_000);
    // Down, listed again (which proves the cache current) and watched again.
    await eventually(() => asked >= 2 && fake.listQueries.length >= 2, 2_000);
  });

  it('pages through a long list with continue tokens', async () => {
    const fake = fakeClient();
    fake.lists.push(
      { metadata: { continue: 'p2' }, items: [obj('a', '1')] },
      list('5', obj('b', '2')),
    );
    informer = startInformerWith(fake.client, { path: '/x', pageSize: 1, backoff: fast });
    expect(await informer.waitForSync(1000)).toBe(true);
    expect(fake.listQueries.map((q) => q.continue)).toEqual([undefined, 'p2']);
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['a', 'b']);
    expect(informer.resourceVersion()).toBe('5');
  });

  it('relists on 410 Gone in the stream and reports what vanished meanwhile as deleted', async () => {
    const fake = fakeClient();
    fake.lists.push(list('10', obj('a', '10'), obj('b', '10')), list('20', obj('a', '15')));
    informer = startInformerWith(fake.client, { path: '/x', backoff: fast });
    const seen: string[] = [];
    informer.onChange((e) => seen.push(`${e.type} ${e.object.metadata?.name}`));
    await eventually(() => fake.watches.length === 1);
    (fake.watches[0] as FakeWatch).send({
      type: 'ERROR',
      object: { kind: 'Status', code: 410, message: 'too old' } as KubernetesObject,
    });
    await eventually(() => fake.watches.length === 2);
    expect(fake.listQueries).toHaveLength(2);
    expect(seen).toEqual(['add a', 'add b', 'delete b', 'update a']);
    expect((fake.watches[1] as FakeWatch).query.resourceVersion).toBe('20');
  });

  it('relists when the watch request itself is answered 410', async () => {
    const fake = fakeClient();
    fake.lists.push(list('10', obj('a', '10')), list('30'));
    fake.watchFailures.push(new ApiException(410, 'Gone', {}, {}));
    informer = startInformerWith(fake.client, { path: '/x', backoff: fast });
    await eventually(() => fake.watches.length === 1);
    expect(fake.listQueries).toHaveLength(2);
    expect(informer.list()).toEqual([]);
    expect((fake.watches[0] as FakeWatch).query.resourceVersion).toBe('30');
  });

  it('tracks bookmarks, so the next watch resumes from the bookmarked resourceVersion', async () => {
    const fake = fakeClient();
    fake.lists.push(list('10', obj('a', '10')));
    informer = startInformerWith(fake.client, { path: '/x', backoff: fast });
    await eventually(() => fake.watches.length === 1);
    const w = fake.watches[0] as FakeWatch;
    w.send({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '99' } } });
    w.close();
    await eventually(() => fake.watches.length === 2);
    expect((fake.watches[1] as FakeWatch).query.resourceVersion).toBe('99');
    expect(fake.listQueries).toHaveLength(1);
    expect(informer.get('ops/a')).toBeDefined();
  });

  it('restarts a watch that goes silent (no event, no bookmark), reporting it down until a list succeeds', async () => {
    const fake = fakeClient();
    fake.lists.push(list('10'), new Error('ECONNREFUSED'));
    informer = startInformerWith(fake.client, { path: '/x', stallAfterMs: 50, backoff: fast });
    await eventually(() => fake.listQueries.length >= 3);
    expect((fake.watches[0] as FakeWatch).aborted).toBe(true);
    expect(fake.watches).toHaveLength(1);
    expect(informer.downSince()).toBeDefined();
    fake.lists[0] = list('11');
    await eventually(() => fake.watches.length === 2);
    expect(informer.downSince()).toBeUndefined();
  });

  it('stays unhealthy through retries while lists keep failing, longer than the first back-off', async () => {
    let t = 0;
    const fake = fakeClient();
    fake.lists.push(list('10', obj('a', '10')));
    informer = startInformerWith(fake.client, {
      path: '/x',
      backoff: { initialMs: 5, maxMs: 10 },
      now: () => t,
    });
    await eventually(() => fake.watches.length === 1);
    expect(informer.healthy(1000)).toBe(true);
    fake.lists[0] = new Error('connect ECONNREFUSED');
    t = 1;
    (fake.watches[0] as FakeWatch).fail(new Error('socket hang up'));
    // Many retries happen; none of them may clear the down state.
    await new Promise((r) => setTimeout(r, 150));
    expect(fake.listQueries.length).toBeGreaterThan(5);
    t = 2000;
    expect(informer.downSince()).toBe(1);
    expect(informer.healthy(1000)).toBe(false);
    expect(informer.get('ops/a')).toBeDefined();
  });

  it('counts a watch that closes before delivering anything as failed, and relists', async () => {
    let t = 0;
    const fake = fakeClient();
    fake.lists.push(list('10'), new Error('ECONNREFUSED'));
    informer = startInformerWith(fake.client, { path: '/x', backoff: fast, now: () => t });
    await eventually(() => fake.watches.length === 1);
    expect(informer.downSince()).toBeUndefined();
    t = 5;
    (fake.watches[0] as FakeWatch).close();
    await eventually(() => fake.listQueries.length >= 2);
    expect(informer.downSince()).toBe(5);
  });

  it('a watch that delivers clears the down state, and a closed delivering watch is resumed without a list', async () => {
    const fake = fakeClient();
    fake.lists.push(list('10'));
    informer = startInformerWith(fake.client, { path: '/x', backoff: fast });
    await eventually(() => fake.watches.length === 1);
    (fake.watches[0] as FakeWatch).send({ type: 'ADDED', object: obj('a', '11') });
    (fake.watches[0] as FakeWatch).close();
    await eventually(() => fake.watches.length === 2);
    expect(fake.listQueries).toHaveLength(1);
    expect((fake.watches[1] as FakeWatch).query.resourceVersion).toBe('11');
    expect(informer.downSince()).toBeUndefined();
  });

  it('is not synced while the first list fails, and waitForSync gives up at its timeout', async () => {
    const fake = fakeClient();
    fake.lists.push(new ApiException(403, 'Forbidden', {}, {}));
    informer = startInformerWith(fake.client, { path: '/x', backoff: fast });
    expect(await informer.waitForSync(50)).toBe(false);
    expect(informer.synced()).toBe(false);
    expect(informer.healthy(60_000)).toBe(false);
    expect(informer.downSince()).toBeDefined();
  });

  it('stop() ends the open watch and the loop; the cache stays readable', async () => {
    const fake = fakeClient();
    fake.lists.push(list('10', obj('a', '10')));
    const i = startInformerWith(fake.client, { path: '/x', backoff: fast });
    await eventually(() => fake.watches.length === 1);
    await i.stop();
    expect((fake.watches[0] as FakeWatch).aborted).toBe(true);
    expect(i.get('ops/a')).toBeDefined();
    expect(await i.waitForSync(10)).toBe(true);
    await new Promise((r) => setTimeout(r, 30));
    expect(fake.watches).toHaveLength(1);
  });

  it('keeps working when a change handler throws', async () => {
    const fake = fakeClient();
    fake.lists.push(list('10'));
    informer = startInformerWith(fake.client, { path: '/x', backoff: fast });
    const seen: string[] = [];
    informer.onChange(() => {
      throw new Error('handler bug');
    });
    informer.onChange((e) => seen.push(e.type));
    await eventually(() => fake.watches.length === 1);
    (fake.watches[0] as FakeWatch).send({ type: 'ADDED', object: obj('a', '11') });
    expect(seen).toEqual(['add']);
    expect(informer.get('ops/a')).toBeDefined();
  });
});
