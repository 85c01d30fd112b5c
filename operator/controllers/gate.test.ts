import { afterEach, describe, expect, it, vi } from 'vitest';
import { jsonLogger } from '../../core/log.ts';
import { GateWriteLog } from './gate.ts';

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
