/**
 * Parts that any object's builder takes: `pod('web', inNamespace('apps'))`,
 * `genomeResource('totk', g, inNamespace('apps'), withUid('uid-1'))`.
 */
/** The metadata the builders set (a Kubernetes client's object metadata takes it as it is). */
export interface TestMetadata {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** An object with metadata, as the builders make them. */
export interface WithMetadata {
  metadata: TestMetadata;
}

/** In namespace `namespace`. */
export const inNamespace =
  (namespace: string) =>
  <T extends WithMetadata>(o: T): T => ({ ...o, metadata: { ...o.metadata, namespace } });

/** With metadata.uid `uid`. */
export const withUid =
  (uid: string) =>
  <T extends WithMetadata>(o: T): T => ({ ...o, metadata: { ...o.metadata, uid } });

/** With these labels besides its others. */
export const labelled =
  (labels: Record<string, string>) =>
  <T extends WithMetadata>(o: T): T => ({
    ...o,
    metadata: { ...o.metadata, labels: { ...o.metadata.labels, ...labels } },
  });

/** With these annotations besides its others. */
export const annotated =
  (annotations: Record<string, string>) =>
  <T extends WithMetadata>(o: T): T => ({
    ...o,
    metadata: { ...o.metadata, annotations: { ...o.metadata.annotations, ...annotations } },
  });

/** Applies each part in turn to `object`. */
export const build = <T>(object: T, parts: readonly ((o: T) => T)[]): T =>
  parts.reduce((o, part) => part(o), object);
