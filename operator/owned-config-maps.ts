import { GENOME_UID_LABEL } from '../core/api.ts';
import { objectKey, type InformerEvent } from '../kube/informer.ts';
import type { CachedConfigMap } from './cached.ts';

/**
 * The uid of the Genome that owns a ConfigMap: its genome-uid label, and only when its
 * controller reference names the same uid. A label alone is not ownership: anyone who can
 * create a ConfigMap can copy the label.
 */
function ownerOf(configMap: CachedConfigMap): string | undefined {
  const uid = configMap.metadata?.labels?.[GENOME_UID_LABEL];
  const controller = configMap.metadata?.ownerReferences?.find((o) => o.controller === true);
  return uid !== undefined && controller?.uid === uid ? uid : undefined;
}

/** The key of the Genome that controls a ConfigMap (its controller owner reference), if any. */
export function ownerKey(configMap: CachedConfigMap): string | undefined {
  const owner = configMap.metadata?.ownerReferences?.find(
    (o) => o.controller === true && o.kind === 'Genome',
  );
  return owner?.name === undefined
    ? undefined
    : `${configMap.metadata?.namespace ?? ''}/${owner.name}`;
}

/** Whether `cached` is the very ConfigMap `applied` was: same uid, same data. */
function sameObject(applied: CachedConfigMap | undefined, cached: CachedConfigMap): boolean {
  return (
    applied !== undefined &&
    applied.metadata?.uid === cached.metadata?.uid &&
    applied.dataDigest === cached.dataDigest
  );
}

/**
 * The operator's ConfigMaps by owning Genome uid, from the cache, plus the ones it applied that
 * the cache has not shown yet (so a reconcile right after an apply does not see it missing and
 * "republish" it). The cache's next word on a name replaces what was applied.
 */
export class OwnedConfigMaps {
  private readonly byOwner = new Map<string, Map<string, CachedConfigMap>>();
  /** The owner each ConfigMap (`namespace/name`) is indexed under, so a new owner moves it. */
  private readonly ownerOfName = new Map<string, string>();
  private readonly applied = new Map<string, Map<string, CachedConfigMap>>();
  /** ConfigMaps this operator deleted whose delete event has not come yet: name → uid. */
  private readonly deleted = new Map<string, string>();

  /**
   * Takes one change from the ConfigMap cache. Returns true when the change only shows this
   * operator's own write landing, which needs no reconcile: a ConfigMap it applied, as it
   * applied it (same uid, same data), or the delete of one it deleted.
   */
  observe(change: Pick<InformerEvent<CachedConfigMap>, 'type' | 'object'>): boolean {
    const name = objectKey(change.object);
    const deletedByUs = change.type === 'delete' && this.deletedByUs(name, change.object);
    const own = this.settleApplied(name, change) || deletedByUs;
    // Whatever it was indexed under before (an owner reference changed, or is gone) is stale.
    const previous = this.ownerOfName.get(name);
    if (previous !== undefined) this.index(previous, name, undefined);
    const uid = change.type === 'delete' ? undefined : ownerOf(change.object);
    if (uid !== undefined) this.index(uid, name, change.object);
    return own;
  }

  /**
   * Forgets the applied ConfigMaps of `name` the cache now has a word on; true when the change
   * is one of them landing as applied. The delete of the one before a replacement (deleted,
   * applied again under the same name, another uid) leaves the new one.
   */
  private settleApplied(
    name: string,
    change: Pick<InformerEvent<CachedConfigMap>, 'type' | 'object'>,
  ): boolean {
    let own = false;
    for (const owned of this.applied.values()) {
      const applied = owned.get(name);
      if (applied === undefined) continue;
      const deleted = change.type === 'delete';
      if (deleted && applied.metadata?.uid !== change.object.metadata?.uid) continue;
      own ||= !deleted && sameObject(applied, change.object);
      owned.delete(name);
    }
    return own;
  }

  /** Whether this operator deleted the ConfigMap `name` with this uid (and forgets it). */
  private deletedByUs(name: string, configMap: CachedConfigMap): boolean {
    const uid = this.deleted.get(name);
    this.deleted.delete(name);
    return uid !== undefined && uid === configMap.metadata?.uid;
  }

  /** Sets (or, with undefined, removes) a ConfigMap under the owner `uid`. */
  private index(uid: string, name: string, configMap: CachedConfigMap | undefined): void {
    const owned = this.byOwner.get(uid) ?? new Map<string, CachedConfigMap>();
    if (configMap === undefined) {
      owned.delete(name);
      this.ownerOfName.delete(name);
    } else {
      owned.set(name, configMap);
      this.ownerOfName.set(name, uid);
    }
    if (owned.size === 0) this.byOwner.delete(uid);
    else this.byOwner.set(uid, owned);
  }

  /** Notes a ConfigMap the operator just applied for a Genome. */
  noteApplied(ownerUid: string, configMap: CachedConfigMap): void {
    // The cache may have shown this very object before the apply's answer came back: do not
    // hold a copy of its data until the next event on that name.
    const cached = this.byOwner.get(ownerUid)?.get(objectKey(configMap));
    if (cached !== undefined && cached.metadata?.uid === configMap.metadata?.uid) return;
    const owned = this.applied.get(ownerUid) ?? new Map<string, CachedConfigMap>();
    owned.set(objectKey(configMap), configMap);
    this.applied.set(ownerUid, owned);
  }

  /** Notes a ConfigMap the operator just deleted. */
  noteDeleted(ownerUid: string, namespace: string, name: string, uid?: string): void {
    const key = `${namespace}/${name}`;
    this.applied.get(ownerUid)?.delete(key);
    if (this.ownerOfName.get(key) === ownerUid) this.index(ownerUid, key, undefined);
    if (uid === undefined) return;
    // Its delete event is this operator's own write landing (observe). Bounded: an event that
    // never comes (it was gone already) leaves an entry.
    if (this.deleted.size >= 10_000) this.deleted.clear();
    this.deleted.set(key, uid);
  }

  /**
   * The ConfigMaps the Genome of `uid` owns in its `namespace` (an owner reference cannot reach
   * across namespaces; one that claims to is not the Genome's).
   */
  ownedBy(uid: string, namespace: string): CachedConfigMap[] {
    const merged = new Map([...(this.applied.get(uid) ?? []), ...(this.byOwner.get(uid) ?? [])]);
    return [...merged.values()].filter((c) => c.metadata?.namespace === namespace);
  }

  /** Forgets a Genome that is gone. */
  forget(uid: string): void {
    this.applied.delete(uid);
  }
}
