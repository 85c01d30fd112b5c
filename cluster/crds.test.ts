import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultTrustPolicy } from '../core/trust-policy-schema.ts';
import { CRD_PATHS, installCrdsAndDefaultPolicy } from './crds.ts';

/** A kubectl that records its calls and answers `get crd` with each of `established` in turn. */
function fakeKubectl(established: string[]) {
  const calls: { args: string[]; input?: string }[] = [];
  const kubectl = (args: string[], input?: string) => {
    calls.push({ args, ...(input !== undefined && { input }) });
    return args[0] === 'get' ? (established.shift() ?? '') : '';
  };
  return { calls, kubectl };
}

describe('installCrdsAndDefaultPolicy', () => {
  it('applies both committed CRDs, waits until both are Established, then applies the default policy', async () => {
    expect(CRD_PATHS.map((p) => p.split('/').pop())).toEqual([
      'genomes.mathison.io.yaml',
      'genometrustpolicies.mathison.io.yaml',
    ]);
    for (const path of CRD_PATHS) expect(existsSync(path), path).toBe(true);
    const { calls, kubectl } = fakeKubectl(['', 'True', 'TrueTrue']);
    await installCrdsAndDefaultPolicy(kubectl, { allowTestKeys: false });
    expect(calls[0]!.args).toEqual(['apply', '-f', CRD_PATHS[0], '-f', CRD_PATHS[1]]);
    expect(calls.filter((c) => c.args[0] === 'get')).toHaveLength(3);
    const last = calls.at(-1)!;
    expect(last.args).toEqual(['apply', '-f', '-']);
    expect(JSON.parse(last.input!)).toEqual(defaultTrustPolicy({ allowTestKeys: false }));
  });

  it('takes an async kubectl too, and says which CRDs never became Established', async () => {
    const { calls, kubectl } = fakeKubectl([]);
    const slow = async (args: string[], input?: string) => kubectl(args, input);
    await expect(
      installCrdsAndDefaultPolicy(slow, { allowTestKeys: true, timeoutMs: 300 }),
    ).rejects.toThrow(
      'timed out waiting for the CRDs genomes.mathison.io, genometrustpolicies.mathison.io to be Established',
    );
    expect(calls.some((c) => c.input !== undefined)).toBe(false);
  });
});
