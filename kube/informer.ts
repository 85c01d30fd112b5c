import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { errorMessage, silentLogger, type Logger } from '../core/log.ts';
import { exponentialBackoff, type Backoff, type BackoffOptions } from './backoff.ts';
import { isGone } from './errors.ts';
import {
  httpListWatchClient,
  type ListWatchClient,
  type ObjectList,
  type Query,
  type WatchEvent,
  type WatchStream,
} from './list-watch-client.ts';

/** A change the cache saw, with the object (for a delete, its last known state). */
export type InformerEvent<T> =
  | { type: 'add'; object: T }
  | { type: 'update'; object: T; old: T }
  | { type: 'delete'; object: T };

/** What to watch and how patiently. */
export interface InformerOptions {
  /** The collection path, e.g. `/api/v1/namespaces/ops/secrets` or `/apis/g/v1/genomes`. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  log?: Logger;
  /** A watch that delivers no event and no bookmark for this long is restarted (default 150 s). */
  stallAfterMs?: number;
  /** Back-off between failed lists and watches (default 0.5 s doubling to 30 s, jittered). */
  backoff?: BackoffOptions;
  /** How long the API server keeps one watch open before we re-watch (default 5 to 10 min). */
  watchTimeoutSeconds?: number;
  /** Objects per list page (default 500). */
  pageSize?: number;
  /** The clock, for tests (default Date.now). */
  now?: () => number;
  /**
   * Shrinks each object before it is cached (and before handlers see it): keep only the fields
   * the consumer reads, so a cache of large objects stays small. Must keep metadata.name,
   * namespace and resourceVersion. List pages are shrunk one page at a time. `previous` is
   * what the cache holds under the object's key now (a transform may reuse parts of it).
   */
  transform?: (object: KubernetesObject, previous?: KubernetesObject) => KubernetesObject;
}

/** A cache of one resource kept current by list + watch. */
export interface Informer<T extends KubernetesObject> {
  /** True once a list has succeeded; stays true (check healthy() for freshness). */
  synced(): boolean;
  /** Resolves true once synced, or false if `timeoutMs` passes or the informer stops first. */
  waitForSync(timeoutMs: number): Promise<boolean>;
  /** The cached object of a key (`namespace/name`, or `name` when cluster-scoped). */
  get(key: string): T | undefined;
  /** Every cached object; a new array each call. */
  list(): T[];
  /** Calls `handler` after each change of the cache; returns a function that unsubscribes. */
  onChange(handler: (event: InformerEvent<T>) => void): () => void;
  /** The resourceVersion the cache is current at ('' before the first list). */
  resourceVersion(): string;
  /**
   * When the list or watch started failing (epoch ms), or undefined when it works. Set on any
   * failed list, failed or stalled watch; cleared only by a successful list or a watch event.
   */
  downSince(): number | undefined;
  /** Synced and not down for `staleAfterMs` or more: the cache may be trusted. */
  healthy(staleAfterMs: number): boolean;
  /** Calls `handler` each time the list/watch goes down or comes back (see downSince). */
  onDownChange(handler: () => void): void;
  /** Stops watching and waits for the loop to end; the cache stays readable. */
  stop(): Promise<void>;
}

/** The cache key of an object: `namespace/name`, or `name` for a cluster-scoped object. */
export function objectKey(object: { metadata?: { namespace?: string; name?: string } }): string {
  const { namespace, name = '' } = object.metadata ?? {};
  return namespace ? `${namespace}/${name}` : name;
}

/** The object's kind and identity (name, namespace, uid, resourceVersion, generation) only. */
function identityOf<T extends KubernetesObject>(object: T): T {
  const { name, namespace, uid, resourceVersion, generation } = object.metadata ?? {};
  const metadata = { name, namespace, uid, resourceVersion, generation };
  const kept = Object.fromEntries(Object.entries(metadata).filter(([, v]) => v !== undefined));
  return { apiVersion: object.apiVersion, kind: object.kind, metadata: kept } as unknown as T;
}

/** Starts an informer on the API server of `kc`. */
export function startInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  options: InformerOptions,
): Informer<T> {
  return startInformerWith(httpListWatchClient<T>(kc, options.path), options);
}

/** Starts an informer on any list/watch client (the API server's, or a fake in unit tests). */
export function startInformerWith<T extends KubernetesObject>(
  client: ListWatchClient<T>,
  options: InformerOptions,
): Informer<T> {
  const loop = new InformerLoop(client, options);
  const done = loop.run();
  return {
    synced: () => loop.isSynced,
    waitForSync: (timeoutMs) => loop.waitForSync(timeoutMs),
    get: (key) => loop.cache.get(key),
    list: () => [...loop.cache.values()],
    onChange: (handler) => loop.subscribe(handler),
    resourceVersion: () => loop.rv,
    downSince: () => loop.down,
    healthy: (staleAfterMs) =>
      loop.isSynced && (loop.down === undefined || loop.now() - loop.down < staleAfterMs),
    onDownChange: (handler) => loop.downHandlers.push(handler),
    stop: async () => {
      loop.stop();
      await done;
    },
  };
}

/** Why a watch ended: closed by the server (re-watch), or its resourceVersion expired (relist). */
type WatchEnd = 'closed' | 'gone';

interface WatchState {
  stream?: WatchStream;
  delivered: boolean;
  end: WatchEnd;
  stalled: boolean;
  /** When the watch was asked for, and for how long (its timeoutSeconds, in ms). */
  started: number;
  timeoutMs: number;
}

/** A timer that fires when not re-armed within `ms`: detects a watch gone silent. */
class Stall {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly ms: number,
    private readonly onStall: () => void,
  ) {
    this.arm();
  }
  arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onStall, this.ms);
  }
  clear(): void {
    clearTimeout(this.timer);
  }
}

class InformerLoop<T extends KubernetesObject> {
  readonly cache = new Map<string, T>();
  rv = '';
  isSynced = false;
  down: number | undefined;
  readonly downHandlers: (() => void)[] = [];
  readonly now: () => number;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private readonly handlers = new Set<(event: InformerEvent<T>) => void>();
  private readonly syncWaiters = new Set<(synced: boolean) => void>();
  private stopped = false;
  private wake: (() => void) | undefined;
  private abortWatch: (() => void) | undefined;

  constructor(
    private readonly client: ListWatchClient<T>,
    private readonly options: InformerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? silentLogger;
    this.backoff = exponentialBackoff(options.backoff);
  }

  async run(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) await this.relist();
        needList = false;
        needList = (await this.watchOnce()) === 'gone';
      } catch (err) {
        if (this.stopped) break;
        // After any failure, list again rather than re-watch: a list that succeeds proves the
        // cache current at once, where a resumed watch on a quiet collection might deliver
        // nothing (so not clear the down state) until the next bookmark, a minute later.
        needList = true;
        this.markDown(err);
        await this.sleep(this.backoff.next());
      }
    }
    for (const resolve of this.syncWaiters) resolve(false);
  }

  stop(): void {
    this.stopped = true;
    this.abortWatch?.();
    this.wake?.();
  }

  subscribe(handler: (event: InformerEvent<T>) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.isSynced) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (synced: boolean) => {
        clearTimeout(timer);
        this.syncWaiters.delete(finish);
        resolve(synced);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.syncWaiters.add(finish);
    });
  }

  /** Reads the whole collection (page by page) and replaces the cache with it. */
  private async relist(): Promise<void> {
    const { items, rv } = await this.listAll();
    if (this.stopped) return;
    this.replace(items, rv);
    this.markUp();
    if (this.isSynced) return;
    this.isSynced = true;
    for (const resolve of this.syncWaiters) resolve(true);
  }

  private async listAll(): Promise<{ items: T[]; rv: string }> {
    const items: T[] = [];
    let page: ObjectList<T> | undefined;
    do {
      const token: string | undefined = page?.metadata?.continue;
      page = await this.client.list({
        ...this.selectors(),
        limit: this.options.pageSize ?? 500,
        continue: token || undefined,
      });
      items.push(...page.items.map((item) => this.shrink(item)));
    } while (page.metadata?.continue && !this.stopped);
    return { items, rv: page.metadata?.resourceVersion ?? '' };
  }

  private replace(items: readonly T[], rv: string): void {
    const fresh = new Map(items.map((item) => [objectKey(item), item]));
    for (const [key, old] of [...this.cache]) {
      if (!fresh.has(key)) this.apply({ type: 'DELETED', object: old });
    }
    for (const item of items) this.apply({ type: 'ADDED', object: item });
    this.rv = rv;
  }

  /**
   * One watch from the cache's resourceVersion, until the server closes it, it fails (throws),
   * or it stalls (throws). A watch that closes before delivering anything counts as failed:
   * otherwise a server that accepts and drops every watch would be re-watched in a hot loop.
   */
  private async watchOnce(): Promise<WatchEnd> {
    const query = this.watchQuery();
    const state: WatchState = {
      delivered: false,
      end: 'closed',
      stalled: false,
      started: this.now(),
      timeoutMs: Number(query.timeoutSeconds) * 1000,
    };
    // Aborts the request too: a watch whose answer never comes has no stream to abort yet.
    const requested = new AbortController();
    const abort = () => {
      requested.abort();
      state.stream?.abort();
    };
    const stall = new Stall(this.options.stallAfterMs ?? 150_000, () => {
      state.stalled = true;
      abort();
    });
    this.abortWatch = abort;
    try {
      state.stream = await this.client
        .watch(
          query,
          (event) => {
            if (this.stopped || state.end === 'gone') return;
            state.delivered = true;
            stall.arm();
            this.markUp();
            state.end = this.onWatchEvent(event);
            if (state.end === 'gone') abort();
          },
          requested.signal,
        )
        .catch((err: unknown) => {
          throw state.stalled ? new Error('the watch request was not answered') : err;
        });
      if (state.end === 'gone' || this.stopped) abort();
      await state.stream.ended.catch((err: unknown) => {
        if (state.end !== 'gone' && !state.stalled && !this.stopped) throw err;
      });
    } finally {
      stall.clear();
      this.abortWatch = undefined;
    }
    return this.watchEnded(state);
  }

  /**
   * A watch that stalled failed; so did one that closed before delivering anything, unless it
   * lasted its whole timeout (a quiet collection under a short timeout): that one proved the
   * cache current as far as a watch can, and is resumed as if it had delivered.
   */
  private watchEnded(state: WatchState): WatchEnd {
    if (state.stalled) throw new Error('the watch delivered nothing, not even a bookmark');
    const lasted = this.now() - state.started >= state.timeoutMs * 0.9;
    if (!state.delivered && !lasted && !this.stopped)
      throw new Error('the watch closed before any event');
    if (lasted) this.markUp();
    this.backoff.reset();
    return state.end;
  }

  /** Applies one watch event; says 'gone' when the server answered 410 (relist). */
  private onWatchEvent(event: WatchEvent<T>): WatchEnd {
    if (event.type === 'ERROR') {
      const status = event.object as { code?: number; message?: string };
      if (status.code === 410) return 'gone';
      this.log.warn('watch error event', { path: this.options.path, err: status.message });
      return 'closed';
    }
    const rv = event.object.metadata?.resourceVersion;
    if (event.type !== 'BOOKMARK') this.apply({ ...event, object: this.shrink(event.object) });
    if (rv) this.rv = rv;
    return 'closed';
  }

  private apply(event: WatchEvent<T>): void {
    const key = objectKey(event.object);
    const old = this.cache.get(key);
    if (event.type === 'DELETED') {
      if (!this.cache.delete(key)) return;
      this.emit({ type: 'delete', object: event.object });
      return;
    }
    if (old?.metadata?.resourceVersion === event.object.metadata?.resourceVersion && old) return;
    this.cache.set(key, event.object);
    this.emit(
      old ? { type: 'update', object: event.object, old } : { type: 'add', object: event.object },
    );
  }

  /**
   * The object as the transform keeps it. A transform that throws (an object no one thought
   * of: thousands of levels deep, a field of the wrong type) must not stop the cache: the
   * object is cached by its identity alone, which every consumer refuses as incomplete.
   */
  private shrink(object: T): T {
    const transform = this.options.transform;
    if (transform === undefined) return object;
    try {
      return transform(object, this.cache.get(objectKey(object))) as T;
    } catch (err) {
      this.log.error('informer transform threw; caching the object by its identity alone', {
        path: this.options.path,
        key: objectKey(object),
        err: errorMessage(err),
      });
      return identityOf(object);
    }
  }

  private emit(event: InformerEvent<T>): void {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (err) {
        this.log.error('informer change handler threw', {
          path: this.options.path,
          err: errorMessage(err),
        });
      }
    }
  }

  private selectors(): Query {
    return { labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector };
  }

  private watchQuery(): Query {
    const base = this.options.watchTimeoutSeconds ?? 300;
    const timeout = this.options.watchTimeoutSeconds ?? Math.round(base * (1 + Math.random()));
    return {
      ...this.selectors(),
      resourceVersion: this.rv,
      allowWatchBookmarks: true,
      timeoutSeconds: timeout,
    };
  }

  private markDown(err: unknown): void {
    if (this.down === undefined) {
      this.down = this.now();
      this.tellDownChange();
    }
    this.log.warn('list/watch failed; retrying', {
      path: this.options.path,
      downForMs: this.now() - this.down,
      gone: isGone(err),
      err: errorMessage(err),
    });
  }

  private markUp(): void {
    if (this.down === undefined) return;
    this.down = undefined;
    this.tellDownChange();
  }

  private tellDownChange(): void {
    for (const handler of this.downHandlers) handler();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
