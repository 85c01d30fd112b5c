import { afterEach, describe, expect, it, vi } from 'vitest';
import { jsonLogger } from '../../core/log.ts';
import type { CachedPod, CompactGenome } from '../cached.ts';
import type { GateWrite } from '../gate.ts';
import { bootCheckEvent, GateWriteLog } from './gate.ts';

describe('GateWriteLog', () => {
  afterEach(() => vi.useRealTimers());

  const recorder = () => {
    const lines: Record<string, unknown>[] = [];
    const log = jsonLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    return { lines, log };
  };

  it('sums up a burst of gate writes in one line per interval', () => {
    vi.useFakeTimers();
    const { lines, log } = recorder();
    const written = new GateWriteLog(log, 1_000);
    for (let i = 0; i < 1_000; i++) written.written({ status: 'False', reason: 'UNKNOWN_SIGNER' });
    written.written({ status: 'True', reason: 'Verified' });
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: 'readiness gates written',
      opened: 1,
      closed: 1_000,
      reasons: { 'False: UNKNOWN_SIGNER': 1_000, 'True: Verified': 1 },
    });
    written.written({ status: 'True', reason: 'Verified' });
    vi.advanceTimersByTime(1_000);
    expect(lines[1]).toMatchObject({ opened: 1, closed: 0 });
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(2); // nothing written, nothing logged
  });

  it('flush writes what is pending at once (on stop)', () => {
    const { lines, log } = recorder();
    const written = new GateWriteLog(log, 60_000);
    written.written({ status: 'True', reason: 'Verified' });
    written.flush();
    expect(lines).toHaveLength(1);
    written.flush();
    expect(lines).toHaveLength(1);
  });
});

describe('bootCheckEvent: the Genome is told when a pod’s boot check keeps it from starting', () => {
  const refusal = JSON.stringify({
    code: 'GENOME_MANIFEST_MISMATCH',
    reason: 'container mathison (image genome.local/m:bad\u001b[2J): file x differs',
  });
  const pod = (gateReason?: string) =>
    ({
      metadata: { name: 'web-1', namespace: 'apps', uid: 'pod-uid' },
      status: {
        bootCheck: { exitCode: 1, message: refusal },
        conditions:
          gateReason === undefined
            ? []
            : [{ type: 'genome.mathison.io/verified', status: 'False', reason: gateReason }],
      },
    }) as CachedPod;
  const genome = {
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'Genome',
    metadata: { name: 'totk', namespace: 'apps', uid: 'genome-uid' },
  } as CompactGenome;
  const write = (reason: string, status = 'False') =>
    ({
      namespace: 'apps',
      name: 'web-1',
      uid: 'pod-uid',
      condition: { type: 'genome.mathison.io/verified', status, reason, message: 'm' },
    }) as GateWrite;

  it('is a Warning on the Genome, its reason the code, naming the pod and the image (escaped)', () => {
    const event = bootCheckEvent(pod(), write('GENOME_MANIFEST_MISMATCH'), genome);
    expect(event?.object.metadata).toEqual({ name: 'totk', namespace: 'apps', uid: 'genome-uid' });
    expect(event?.object.kind).toBe('Genome');
    expect(event?.note).toMatchObject({ type: 'Warning', reason: 'GENOME_MANIFEST_MISMATCH' });
    expect(event?.note.message).toContain('pod apps/web-1');
    expect(event?.note.message).toContain('genome.local/m:bad');
    expect(event?.note.message).not.toContain('\u001b');
  });

  it.each([
    ['a gate that opens', pod(), write('Verified', 'True'), genome],
    ['a gate closed for another reason', pod(), write('GENOME_NOT_VERIFIED'), genome],
    [
      'a gate already closed for it',
      pod('GENOME_MANIFEST_MISMATCH'),
      write('GENOME_MANIFEST_MISMATCH'),
      genome,
    ],
    ['a Genome that is gone', pod(), write('GENOME_MANIFEST_MISMATCH'), undefined],
  ])('is nothing for %s', (_what, p, w, g) => {
    expect(bootCheckEvent(p, w, g)).toBeUndefined();
  });
});
