import { describe, expect, it } from 'vitest';
import { VERIFIED_READINESS_GATE } from '../core/api.ts';
import { verify } from '../core/verify.ts';
import { genome as buildGenome, keyPair, signedBy, trusted } from '../test/builders/index.ts';
import { shrinkPod } from './cached-pod.ts';
import type { CachedPod } from './cached.ts';
import { bootCheckFailure, desiredGate, type GateInput } from './gate.ts';

const alice = keyPair('alice');
const verified = verify(buildGenome(signedBy(alice)), trusted(alice));
const id = verified.ok ? verified.genomeId : '';

const REFUSAL = JSON.stringify({
  msg: 'build manifest refused',
  code: 'GENOME_MANIFEST_MISMATCH',
  container: 'mathison',
  image: 'genome.local/mathison:bad',
  path: 'packages/gov/dist/index.js',
  expected: 'aaaaaaaaaaaa',
  actual: 'bbbbbbbbbbbb',
  reason:
    'container mathison (image genome.local/mathison:bad): build_manifest file packages/gov/dist/index.js differs',
});

/** A pod as the API server sends it, its boot check in `state` (and `lastState`). */
function apiPod(state: object, lastState: object = {}) {
  return {
    metadata: {
      name: 'p-1',
      namespace: 'apps',
      uid: 'pod-uid',
      labels: { 'genome.mathison.io/genome': 'totk' },
      annotations: { 'genome.mathison.io/id': id },
    },
    spec: {
      readinessGates: [{ conditionType: VERIFIED_READINESS_GATE }],
      volumes: [{ name: 'mathison-genome', configMap: { name: 'totk-aaaa' } }],
      initContainers: [{ name: 'genome-verify', image: 'x' }],
      containers: [],
    },
    status: {
      phase: 'Pending',
      initContainerStatuses: [
        { name: 'other', state: { terminated: { exitCode: 3, message: 'not ours' } } },
        { name: 'genome-verify', state, lastState, restartCount: 2, image: 'x'.repeat(5000) },
      ],
    },
  };
}

const terminated = (exitCode: number, message?: string) => ({
  terminated: { exitCode, ...(message !== undefined && { message }), reason: 'Error' },
});

const cached = (state: object, lastState?: object): CachedPod => {
  const pod = shrinkPod(apiPod(state, lastState) as never) as CachedPod;
  // The injection is judged on the whole pod; this one is complete for the gate's purpose.
  return { ...pod, spec: { ...pod.spec, injection: { complete: true } } };
};

const input: GateInput = {
  genomeKey: 'apps/totk',
  verdict: verified,
  published: new Map([['totk-aaaa', verified]]),
  now: new Date('2026-12-01T12:00:00Z'),
};

describe('the cached pod keeps the boot check’s last termination', () => {
  it('keeps its exit code and message (bounded), current state first, else the last one', () => {
    expect(cached(terminated(1, REFUSAL)).status?.bootCheck).toEqual({
      exitCode: 1,
      message: REFUSAL,
    });
    const restarting = cached({ waiting: { reason: 'CrashLoopBackOff' } }, terminated(1, REFUSAL));
    expect(restarting.status?.bootCheck).toEqual({ exitCode: 1, message: REFUSAL });
    expect(cached({ running: {} }).status?.bootCheck).toBeUndefined();
    const long = cached(terminated(1, 'm'.repeat(100_000)));
    expect(long.status?.bootCheck?.message?.length).toBeLessThanOrEqual(8192);
  });
});

describe('the gate of a pod whose boot check refused', () => {
  it('stays False with the boot check’s code and reason, though the genome is verified', () => {
    const gate = desiredGate(cached(terminated(1, REFUSAL)), input);
    expect(gate.status).toBe('False');
    expect(gate.reason).toBe('GENOME_MANIFEST_MISMATCH');
    expect(gate.message).toContain('genome-verify');
    expect(gate.message).toContain('genome.local/mathison:bad');
    expect(gate.message).toContain('packages/gov/dist/index.js');
  });

  it('stays False while the boot check restarts after a refusal', () => {
    const pod = cached({ running: {} }, terminated(1, REFUSAL));
    expect(desiredGate(pod, input).reason).toBe('GENOME_MANIFEST_MISMATCH');
  });

  it('opens once the boot check exits 0', () => {
    const pod = cached(terminated(0), terminated(1, REFUSAL));
    expect(desiredGate(pod, input).status).toBe('True');
  });

  it.each([
    ['no message', undefined],
    ['a message that is not the boot check’s', 'Killed'],
    ['a code that is not one of ours', JSON.stringify({ code: 'EVIL_CODE', reason: 'x' })],
  ])('closes with GENOME_VERIFY_ERROR on %s', (_what, message) => {
    const gate = desiredGate(cached(terminated(137, message)), input);
    expect(gate).toMatchObject({ status: 'False', reason: 'GENOME_VERIFY_ERROR' });
    expect(gate.message).toContain('137');
  });

  it('escapes what the message says', () => {
    const hostile = JSON.stringify({ code: 'GENOME_MANIFEST_MISMATCH', reason: 'a\u001b[2Jb' });
    expect(desiredGate(cached(terminated(1, hostile)), input).message).not.toContain('\u001b');
  });

  it('names the code, pod and image for the Genome’s Event', () => {
    const failure = bootCheckFailure(cached(terminated(1, REFUSAL)));
    expect(failure).toMatchObject({ code: 'GENOME_MANIFEST_MISMATCH' });
    expect(failure?.message).toContain('genome.local/mathison:bad');
  });

  it('says once that the application does not start, though the boot check said it too', () => {
    const line = JSON.stringify({
      code: 'GENOME_MANIFEST_MISMATCH',
      reason: 'container mathison (image i): differs; the application does not start',
    });
    const failure = bootCheckFailure(cached(terminated(1, line)));
    expect(failure?.message.match(/the application does not start/g)).toHaveLength(1);
  });
});
