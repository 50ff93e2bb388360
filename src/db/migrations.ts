/**
 * The schema, as an ordered list. A migration is never edited once released:
 * a change is a new entry at the end. Each runs in its own transaction.
 */
export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'audit_events',
    sql: `
      CREATE TABLE audit_events (
        id              bigserial PRIMARY KEY,
        occurred_at     timestamptz NOT NULL DEFAULT now(),
        actor           text NOT NULL,
        action          text NOT NULL,
        target          text NOT NULL,
        outcome         text NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'skipped', 'dry-run', 'refused')),
        details         jsonb NOT NULL DEFAULT '{}'::jsonb,
        workflow_id     text,
        run_id          text,
        idempotency_key text NOT NULL UNIQUE
      );
      CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);
      CREATE INDEX audit_events_target ON audit_events (target, occurred_at);
      CREATE INDEX audit_events_workflow ON audit_events (workflow_id);
    `,
  },
];
