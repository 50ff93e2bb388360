import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SentHere } from '../../activities/sent-here.js';

describe('SentHere', () => {
  const dirs: string[] = [];
  const journalIn = () => {
    const dir = mkdtempSync(join(tmpdir(), 'sent-here-'));
    dirs.push(dir);
    return join(dir, 'state', 'pages.jsonl');
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('forgets the oldest keys first', () => {
    const sent = new SentHere<number>(2);
    sent.remember('a', 1);
    sent.remember('b', 2);
    sent.remember('c', 3);
    expect([sent.get('a'), sent.get('b'), sent.get('c')]).toEqual([undefined, 2, 3]);
  });

  it('reads back, after a restart, only what was remembered durably', () => {
    const journal = journalIn();
    const first = new SentHere<{ providerId: string }>(100, journal);
    first.remember('kept', { providerId: 'p1' }, true);
    first.remember('memory-only', { providerId: 'p2' });
    const second = new SentHere<{ providerId: string }>(100, journal);
    expect(second.get('kept')).toEqual({ providerId: 'p1' });
    expect(second.get('memory-only')).toBeUndefined();
  });

  it('skips a line cut short by a crash and compacts the journal to what it keeps', () => {
    const journal = journalIn();
    const first = new SentHere<string>(2, journal);
    for (const key of ['a', 'b', 'c']) first.remember(key, key.toUpperCase(), true);
    writeFileSync(journal, `${readFileSync(journal, 'utf8')}{"key":"d","val`);
    const second = new SentHere<string>(2, journal);
    expect([second.get('a'), second.get('b'), second.get('c'), second.get('d')]).toEqual([undefined, 'B', 'C', undefined]);
    expect(readFileSync(journal, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('keeps working from memory when the journal cannot be written', () => {
    const errors: string[] = [];
    // Its folder is a file: nothing can be written there.
    const blocked = journalIn();
    const sent = new SentHere<string>(10, blocked, () => undefined);
    sent.remember('x', 'y', true);
    const broken = new SentHere<string>(10, join(blocked, 'pages.jsonl'), (error) => errors.push(error.message));
    broken.remember('k', 'v', true);
    expect(broken.get('k')).toBe('v');
    expect(errors.length).toBeGreaterThan(0);
  });
});
