import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * What this worker itself delivered, by idempotency key, for the last few
 * thousand sends. A workflow task whose completion was lost (the worker
 * killed, the Temporal server restarting, a task timing out) runs its local
 * activities again; while our database is down only this record can tell
 * such a send that it already went out. With a journal file, the sends our
 * database did not take are also written there (fsynced) and read back when
 * the worker starts again, so a SIGKILL does not forget them. Oldest keys
 * are forgotten first; the journal is compacted to what is remembered.
 */
export class SentHere<T> {
  private readonly entries = new Map<string, T>();
  private journalBroken = false;

  constructor(
    private readonly capacity = 10_000,
    private readonly journal?: string,
    private readonly onJournalError: (error: Error) => void = () => undefined,
  ) {
    if (journal) this.load(journal);
  }

  get(key: string): T | undefined {
    return this.entries.get(key);
  }

  /** Remembers a key; `durable` also writes it to the journal before returning. */
  remember(key: string, value: T, durable = false): T {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    if (durable && this.journal && !this.journalBroken) {
      try {
        const fd = openSync(this.journal, 'a');
        try {
          appendFileSync(fd, `${JSON.stringify({ key, value })}\n`);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      } catch (error) {
        // A read-only or full disk: memory still covers this process.
        this.journalBroken = true;
        this.onJournalError(error as Error);
      }
    }
    return value;
  }

  private load(journal: string): void {
    try {
      mkdirSync(dirname(journal), { recursive: true });
      const lines = readFileSync(journal, 'utf8').split('\n').filter(Boolean);
      for (const line of lines) {
        try {
          const { key, value } = JSON.parse(line) as { key: string; value: T };
          this.entries.delete(key);
          this.entries.set(key, value);
        } catch {
          // A line cut short by a crash mid-write.
        }
        if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
      }
      writeFileSync(journal, [...this.entries].map(([key, value]) => `${JSON.stringify({ key, value })}\n`).join(''));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.journalBroken = true;
        this.onJournalError(error as Error);
      }
    }
  }
}
