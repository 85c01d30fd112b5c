import { GENOME_UID_LABEL } from '../core/api.ts';
import type { OwnedConfigMap } from './decide.ts';

/** A cached ConfigMap, as far as ownership goes. */
export interface CachedConfigMap extends OwnedConfigMap {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    ownerReferences?: { uid?: string; controller?: boolean; kind?: string; name?: string }[];
  };
}

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

/** A change the ConfigMap cache saw. */
export interface ConfigMapChange {
  type: 'add' | 'update' | 'delete';
  object: CachedConfigMap;
}

/**
 * The operator's ConfigMaps by owning Genome uid, from the cache, plus the ones it applied that
 * the cache has not shown yet (so a reconcile right after an apply does not see it missing and
 * "republish" it). The cache's next word on a name replaces what was applied.
 */
export class OwnedConfigMaps {
  private readonly byOwner = new Map<string, Map<string, CachedConfigMap>>();
  private readonly applied = new Map<string, Map<string, CachedConfigMap>>();

  /** Takes one change from the ConfigMap cache. */
  observe(change: ConfigMapChange): void {
    const uid = ownerOf(change.object);
    const name = keyOf(change.object);
    for (const owned of this.applied.values()) owned.delete(name);
    if (uid === undefined) return;
    const owned = this.byOwner.get(uid) ?? new Map<string, CachedConfigMap>();
    if (change.type === 'delete') owned.delete(name);
    else owned.set(name, change.object);
    if (owned.size === 0) this.byOwner.delete(uid);
    else this.byOwner.set(uid, owned);
  }

  /** Notes a ConfigMap the operator just applied for a Genome. */
  noteApplied(ownerUid: string, configMap: CachedConfigMap): void {
    // The cache may have shown this very object before the apply's answer came back: do not
    // hold a copy of its data until the next event on that name.
    const cached = this.byOwner.get(ownerUid)?.get(keyOf(configMap));
    if (cached !== undefined && cached.metadata?.uid === configMap.metadata?.uid) return;
    const owned = this.applied.get(ownerUid) ?? new Map<string, CachedConfigMap>();
    owned.set(keyOf(configMap), configMap);
    this.applied.set(ownerUid, owned);
  }

  /** Notes a ConfigMap the operator just deleted. */
  noteDeleted(ownerUid: string, namespace: string, name: string): void {
    this.applied.get(ownerUid)?.delete(`${namespace}/${name}`);
    this.byOwner.get(ownerUid)?.delete(`${namespace}/${name}`);
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

function keyOf(configMap: CachedConfigMap): string {
  return `${configMap.metadata?.namespace ?? ''}/${configMap.metadata?.name ?? ''}`;
}
