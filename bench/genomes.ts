/**
 * Kept for bench/operator.bench.ts until it imports test/builders, where genomeOfSize now lives
 * (issue 20: one home for the test builders).
 */
export { genomeOfSize } from '../test/builders/index.ts';
