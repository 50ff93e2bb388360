/**
 * What this worker process itself delivered, by idempotency key, for the
 * last few thousand sends. A workflow task whose completion was lost (the
 * Temporal server restarting, a task timing out) runs its local activities
 * again; while our database is down only this memory can tell such a send
 * that it already went out. Oldest keys are forgotten first.
 */
export class SentHere<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly capacity = 10_000) {}

  get(key: string): T | undefined {
    return this.entries.get(key);
  }

  remember(key: string, value: T): T {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }
}
