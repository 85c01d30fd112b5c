import { describe, expect, it } from 'vitest';
import { VERIFIED_READINESS_GATE } from '../core/api.ts';
import { genome as buildGenome, keyPair, signedBy, trusted } from '../test/builders/index.ts';
import { verify, type Verdict } from '../core/verify.ts';
import type { InjectionCheck } from '../core/injection-check.ts';
import { desiredGate, gateWrites, hasGate, type GateInput } from './gate.ts';
import type { CachedPod } from './cached.ts';

const alice = keyPair('alice');
const now = new Date('2026-12-01T12:00:00.456Z');
const genome = buildGenome(signedBy(alice));
const verified = verify(genome, trusted(alice));
const id = verified.genomeId ?? '';
const untrusted = verify(genome, trusted(keyPair('bob')));

function pod(
  overrides: {
    id?: string;
    configMap?: string;
    gate?: object;
    phase?: string;
    injection?: InjectionCheck;
  } = {},
) {
  const { id: admitted = id, configMap = 'totk-aaaa', phase = 'Running' } = overrides;
  const { injection = { complete: true as const } } = overrides;
  return {
    metadata: {
      name: 'p-1',
      namespace: 'apps',
      uid: 'pod-uid',
      labels: { 'genome.mathison.io/genome': 'totk' },
      annotations: { 'genome.mathison.io/id': admitted },
    },
    spec: {
      readinessGates: [{ conditionType: VERIFIED_READINESS_GATE }],
      volumes: [{ name: 'mathison-genome', configMap: { name: configMap } }],
      injection,
    },
    status: {
      phase,
      conditions:
        overrides.gate === undefined ? [] : [{ type: VERIFIED_READINESS_GATE, ...overrides.gate }],
    },
  } satisfies CachedPod;
}

function input(verdict: Verdict | undefined, published: [string, Verdict][] = []): GateInput {
  return {
    genomeKey: 'apps/totk',
    verdict,
    published: new Map(published.length === 0 && verdict ? [['totk-aaaa', verdict]] : published),
    now,
  };
}

describe('desiredGate', () => {
  it('is False, POD_INJECTION_INCOMPLETE, for a pod whose injection is incomplete, though its genome is verified', () => {
    const problem = 'container decoy does not mount the genome';
    expect(desiredGate(pod({ injection: { complete: false, problem } }), input(verified))).toEqual({
      status: 'False',
      reason: 'POD_INJECTION_INCOMPLETE',
      message: problem,
    });
  });

  it('is False for a pod whose injection was never checked', () => {
    const unchecked = pod();
    delete (unchecked.spec as { injection?: unknown }).injection;
    expect(desiredGate(unchecked, input(verified))).toMatchObject({
      status: 'False',
      reason: 'POD_INJECTION_INCOMPLETE',
    });
  });

  it('is True while the mounted genome is the verified one, naming the signers', () => {
    expect(desiredGate(pod(), input(verified))).toEqual({
      status: 'True',
      reason: 'Verified',
      message: `genome ${id.slice(0, 12)} verified by alice`,
    });
  });

  it.each([
    ['the Genome is gone', undefined, 'GENOME_MISSING', /Genome apps\/totk does not exist/],
    [
      'the key is revoked',
      untrusted,
      'GENOME_UNTRUSTED_SIGNER',
      /is not verified: GENOME_UNTRUSTED_SIGNER/,
    ],
  ])('is False when %s, with the code as the reason', (_what, verdict, reason, message) => {
    const want = desiredGate(pod(), input(verdict));
    expect(want).toMatchObject({ status: 'False', reason });
    expect(want.message).toMatch(message);
  });

  it('is False for a pod that mounts a ConfigMap the Genome does not publish', () => {
    expect(desiredGate(pod({ configMap: 'forged' }), input(verified))).toMatchObject({
      status: 'False',
      reason: 'GENOME_NOT_VERIFIED',
    });
  });

  it('is False for a pod that mounts no genome at all', () => {
    const bare = { ...pod(), spec: { readinessGates: pod().spec.readinessGates } };
    expect(desiredGate(bare, input(verified))).toMatchObject({ reason: 'GENOME_MISSING' });
  });

  it('is False for a pod whose id annotation was changed after admission', () => {
    expect(desiredGate(pod({ id: 'f'.repeat(64) }), input(verified))).toMatchObject({
      status: 'False',
      reason: 'GENOME_ID_MISMATCH',
    });
  });

  it('keeps an older published genome True while it still verifies (a rollout), False once it does not', () => {
    const old = pod({ configMap: 'totk-old' });
    expect(
      desiredGate(
        old,
        input(verified, [
          ['totk-aaaa', verified],
          ['totk-old', verified],
        ]),
      ).status,
    ).toBe('True');
    expect(
      desiredGate(
        old,
        input(verified, [
          ['totk-aaaa', verified],
          ['totk-old', untrusted],
        ]),
      ),
    ).toMatchObject({ status: 'False', reason: 'GENOME_UNTRUSTED_SIGNER' });
  });

  it('escapes genome-derived text in the message', () => {
    const hostile = pod({ id: '\u001b[31mred\nline' });
    const message = desiredGate(hostile, input(verified)).message;
    expect(message).not.toContain('\u001b');
    expect(message).not.toContain('\n');
  });
});

describe('gateWrites', () => {
  it('writes a pod whose condition is missing, with the time of the change', () => {
    const [write] = gateWrites([pod()], input(verified));
    expect(write).toEqual({
      namespace: 'apps',
      name: 'p-1',
      uid: 'pod-uid',
      condition: {
        type: VERIFIED_READINESS_GATE,
        status: 'True',
        reason: 'Verified',
        message: `genome ${id.slice(0, 12)} verified by alice`,
        lastTransitionTime: '2026-12-01T12:00:00Z',
      },
    });
  });

  it('writes nothing when the condition is already what it should be', () => {
    const gate = desiredGate(pod(), input(verified));
    expect(gateWrites([pod({ gate })], input(verified))).toEqual([]);
  });

  it('flips True to False with a new transition time; a new message alone keeps the old time', () => {
    const was = {
      ...desiredGate(pod(), input(verified)),
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    const [revoked] = gateWrites([pod({ gate: was })], input(untrusted));
    expect(revoked?.condition).toMatchObject({
      status: 'False',
      lastTransitionTime: '2026-12-01T12:00:00Z',
    });
    const [reworded] = gateWrites(
      [pod({ gate: { ...was, message: 'older words' } })],
      input(verified),
    );
    expect(reworded?.condition.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
  });

  it('leaves pods without the gate, finished pods and terminating pods alone', () => {
    const ungated = { ...pod(), spec: { ...pod().spec, readinessGates: [] } };
    const finished = pod({ phase: 'Succeeded' });
    const going = {
      ...pod(),
      metadata: { ...pod().metadata, deletionTimestamp: '2026-12-01T11:00:00Z' },
    };
    expect([ungated, finished, going].map(hasGate)).toEqual([false, false, false]);
    expect(gateWrites([ungated, finished, going], input(untrusted))).toEqual([]);
  });
});
