/**
 * The test builders, in one place: key pairs, trusted keys and trust Secrets, genomes, Genome
 * resources and their publication, pods as the webhook injects them, and workloads. Tests and
 * benchmarks only; the product imports nothing from here.
 */
export * from './genome-resources.ts';
export * from './genomes.ts';
export * from './keys.ts';
export * from './metadata.ts';
export * from './pods.ts';
export * from './workloads.ts';
