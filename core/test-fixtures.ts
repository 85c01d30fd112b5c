/**
 * Kept only for the files that still import it (operator/gate.test.ts,
 * operator/controllers/controllers.test.ts, bench/operator.bench.ts) until they import
 * test/builders, the one home of the test builders (issue 20). Import nothing new from here.
 */
import { declaring, genome, withFields, type TestKeyPair } from '../test/builders/index.ts';
import type { Genome } from './genome.ts';

export { keyPair as makeSigner, signWith, trusted as trust } from '../test/builders/index.ts';

/** An unsigned genome declaring `signers`, changed by `overrides` (genome(declaring, withFields)). */
export const makeGenome = (signers: TestKeyPair[], overrides: Partial<Genome> = {}): Genome =>
  genome(declaring(...signers), withFields(overrides));
