import { describe, expect, it } from 'vitest';
import { startOnFreePorts } from '../../scripts/stack/net.js';

describe('starting a server on free ports', () => {
  it('tries fresh ports when one was taken before the server bound it, and gives up after its attempts', async () => {
    const tried: number[][] = [];
    const started = await startOnFreePorts(2, async (ports) => {
      tried.push(ports);
      if (tried.length === 1) throw new Error('it exited; last log lines:\nlisten tcp 127.0.0.1:42069: bind: address already in use');
      return 'up';
    });
    expect(started).toBe('up');
    expect(tried).toHaveLength(2);
    expect(tried.every((ports) => ports.length === 2 && ports.every((port) => port > 0))).toBe(true);

    let calls = 0;
    const taken = startOnFreePorts(1, async () => {
      calls += 1;
      throw new Error('listen EADDRINUSE: address already in use');
    });
    await expect(taken).rejects.toThrow('EADDRINUSE');
    expect(calls).toBe(3);
  });

  it('does not retry any other failure', async () => {
    let calls = 0;
    await expect(
      startOnFreePorts(1, async () => {
        calls += 1;
        throw new Error('temporal: no such file');
      }),
    ).rejects.toThrow('no such file');
    expect(calls).toBe(1);
  });
});
