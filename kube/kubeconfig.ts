import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { KubeConfig, type Cluster, type RequestContext, type User } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';

/** How long a replaced Agent stays open for the requests already handed to it. */
const RETIRE_MS = 30_000;

/**
 * A KubeConfig whose API calls share one connection pool, as client-go's do.
 *
 * client-node 2.0 builds a new undici Agent for every request it authenticates, so every call
 * opened a TLS connection of its own (and, with HTTP/2, a session) that stayed open until the
 * Agent's idle timeout: a handshake per request on both sides, and hundreds of idle sessions
 * in memory under load (the operator benchmark found 260 of them, most of the process's RSS).
 * Here the first Agent is kept and every later request is sent through it, for as long as the
 * TLS material it was built from stays the same: server, CA, client certificate and key as the
 * kubeconfig names them (files by inode, size and modification time; not what an exec plugin
 * returns). When it changes (a rotated client certificate), a new Agent takes over and the old
 * one closes RETIRE_MS later, once the requests handed to it are done. Watches keep a
 * connection each (applyWithOwnConnection), as client-go's informers effectively do after a
 * stalled watch is restarted.
 */
export class PooledKubeConfig extends KubeConfig {
  #shared: { key: string; dispatcher: Dispatcher } | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    // Read before client-node reads the files: if they change in between, the Agent is built
    // from newer material than the key says, and the next request replaces it (never older).
    const key = this.tlsMaterialKey();
    await super.applySecurityAuthentication(context);
    const created = context.getDispatcher();
    if (created === undefined) return; // plain HTTP without TLS options: undici's global pool
    if (this.#shared?.key === key) {
      void created.close(); // never used: it opened nothing
    } else {
      const old = this.#shared?.dispatcher;
      this.#shared = { key, dispatcher: created };
      // Requests already handed the old Agent may not have been sent yet: close it later.
      if (old !== undefined) setTimeout(() => void old.close(), RETIRE_MS).unref();
    }
    context.setDispatcher(this.#shared.dispatcher);
  }

  /**
   * Authenticates a request that gets a connection of its own, outside the pool: a watch, so
   * that a watch restarted after a stall never waits on the same dead connection. The caller
   * closes the request's dispatcher when it is done with it.
   */
  async applyWithOwnConnection(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
  }

  /** Closes the shared pool (its connections end once their requests are done). */
  async closeConnections(): Promise<void> {
    const shared = this.#shared;
    this.#shared = undefined;
    await shared?.dispatcher.close();
  }

  /** A digest of what the Agent's TLS connections are built from. */
  private tlsMaterialKey(): string {
    const cluster: Partial<Cluster> = this.getCurrentCluster() ?? {};
    const user: Partial<User> = this.getCurrentUser() ?? {};
    const hash = createHash('sha256');
    const values = [
      cluster.name,
      cluster.server,
      cluster.caData,
      cluster.skipTLSVerify,
      cluster.tlsServerName,
      cluster.proxyUrl,
      user.name,
      user.certData,
      user.keyData,
    ];
    for (const value of values) hash.update(`${value ?? ''}\0`);
    // client-node reads these files for every request; a stat is enough to see one replaced.
    for (const file of [cluster.caFile, user.certFile, user.keyFile]) {
      const stat = file ? statSync(file) : undefined;
      hash.update(`${stat ? `${stat.ino} ${stat.size} ${stat.mtimeMs}` : ''}\0`);
    }
    return hash.digest('hex');
  }
}
