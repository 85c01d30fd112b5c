import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import {
  ApiException,
  HttpMethod,
  RequestContext,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { fetch } from 'undici';
import { PooledKubeConfig } from './kubeconfig.ts';

/** One page of a list: the objects and the list's metadata (resourceVersion, continue). */
export interface ObjectList<T extends KubernetesObject = KubernetesObject> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** One line of a watch stream: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, and its object. */
export interface WatchEvent<T extends KubernetesObject = KubernetesObject> {
  type: string;
  object: T;
}

/** An open watch: `ended` resolves when the server closes it and rejects when it fails. */
export interface WatchStream {
  ended: Promise<void>;
  abort(): void;
}

/** Query parameters of a list or watch request (undefined values are left out). */
export type Query = Record<string, string | number | boolean | undefined>;

/** The two calls an informer makes; the API server's over HTTP, or a fake in unit tests. */
export interface ListWatchClient<T extends KubernetesObject = KubernetesObject> {
  list(query: Query): Promise<ObjectList<T>>;
  /** Opens a watch; `signal` aborts it, also while its answer has not come. */
  watch(
    query: Query,
    onEvent: (event: WatchEvent<T>) => void,
    signal?: AbortSignal,
  ): Promise<WatchStream>;
}

/**
 * Lists and watches the collection at `path` (for example `/api/v1/namespaces/ops/secrets` or
 * `/apis/genome.mathison.io/v1alpha1/genomes`) with the credentials of `kc`. Errors carry the
 * HTTP status as an ApiException, so kube/errors.ts reads them like any other client-node call.
 */
export function httpListWatchClient<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
): ListWatchClient<T> {
  return {
    list: async (query) => {
      // A list that hangs (a half-open connection) must not hold the informer past its bound:
      // it fails, and the informer lists again on a new connection.
      const { response } = await request(kc, path, query, AbortSignal.timeout(LIST_TIMEOUT_MS));
      return (await response.json()) as ObjectList<T>;
    },
    watch: async (query, onEvent, signal) => {
      const controller = new AbortController();
      const { response, dispatcher } = await request(
        kc,
        path,
        { ...query, watch: true },
        signal === undefined ? controller.signal : AbortSignal.any([controller.signal, signal]),
      );
      const body = Readable.fromWeb(response.body as never);
      const ended = new Promise<void>((resolve, reject) => {
        body.on('error', reject);
        body.on('end', resolve);
        body.on('close', resolve);
      });
      // The watch's own connection (kube/kubeconfig.ts) ends with it.
      ended.finally(() => void dispatcher?.destroy().catch(() => {})).catch(() => {});
      // A caller that aborts and walks away must not leave an unhandled rejection behind.
      ended.catch(() => {});
      const lines = createInterface({ input: body, crlfDelay: Infinity });
      // readline re-emits the body's errors; `ended` already reports them.
      lines.on('error', () => {});
      lines.on('line', (line) => {
        const event = parseLine<T>(line);
        if (event === undefined) return;
        // A throw here would escape as an uncaught exception and end the process: it ends
        // this watch instead (the informer lists again).
        try {
          onEvent(event);
        } catch (err) {
          body.destroy(err instanceof Error ? err : new Error(String(err)));
        }
      });
      return { ended, abort: () => controller.abort() };
    },
  };
}

/**
 * GETs the one object at `path`. With `resourceVersion: '0'` the API server answers from its
 * watch cache, without a read of etcd. A status other than 200 throws, as list() does.
 */
export async function getObject<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  query: Query = {},
): Promise<T> {
  // A read that hangs must not hold its caller (a worker, and with it shutdown) for long.
  const { response } = await request(kc, path, query, AbortSignal.timeout(GET_TIMEOUT_MS));
  return (await response.json()) as T;
}

/** How long getObject waits for its answer. */
const GET_TIMEOUT_MS = 30_000;
/** How long one page of a list may take, its body read included. */
const LIST_TIMEOUT_MS = 60_000;

async function request(kc: KubeConfig, path: string, query: Query, signal?: AbortSignal) {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(cluster.server + path);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  const ctx = new RequestContext(url.toString(), HttpMethod.GET);
  const watch = query.watch === true;
  if (watch && kc instanceof PooledKubeConfig) await kc.applyWithOwnConnection(ctx);
  else await kc.applySecurityAuthentication(ctx);
  const dispatcher = watch ? ctx.getDispatcher() : undefined;
  try {
    const response = await fetch(url, {
      headers: ctx.getHeaders(),
      dispatcher: ctx.getDispatcher(),
      signal,
    });
    if (response.status !== 200) {
      const text = await response.text();
      throw new ApiException(response.status, `GET ${path}: ${response.status}`, text, {});
    }
    return { response, dispatcher };
  } catch (err) {
    void dispatcher?.destroy().catch(() => {});
    throw err;
  }
}

function parseLine<T extends KubernetesObject>(line: string): WatchEvent<T> | undefined {
  try {
    const event = JSON.parse(line) as WatchEvent<T>;
    return typeof event?.type === 'string' && event.object ? event : undefined;
  } catch {
    return undefined;
  }
}
