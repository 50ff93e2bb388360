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
  {
    id: 2,
    name: 'incidents',
    sql: `
      CREATE TABLE incidents (
        id              text PRIMARY KEY,
        workflow_id     text NOT NULL,
        run_id          text NOT NULL,
        dedup_key       text NOT NULL,
        source          text NOT NULL,
        title           text NOT NULL,
        service         text NOT NULL,
        severity        text NOT NULL,
        status          text NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
        muted           boolean NOT NULL DEFAULT false,
        opened_at       timestamptz NOT NULL,
        acknowledged_at timestamptz,
        acknowledged_by text,
        resolved_at     timestamptz,
        resolved_by     text,
        reopen_count    integer NOT NULL DEFAULT 0,
        last_seq        integer NOT NULL DEFAULT 0,
        updated_at      timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX incidents_opened_at ON incidents (opened_at);
      CREATE INDEX incidents_open ON incidents (status) WHERE status <> 'resolved';
      CREATE INDEX incidents_service ON incidents (service, opened_at);

      CREATE TABLE incident_events (
        incident_id text NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
        seq         integer NOT NULL,
        at          timestamptz NOT NULL,
        actor       text NOT NULL,
        kind        text NOT NULL,
        text        text NOT NULL,
        fingerprint text,
        PRIMARY KEY (incident_id, seq)
      );
      CREATE INDEX incident_events_at ON incident_events (at);

      CREATE TABLE incident_alerts (
        incident_id  text NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
        fingerprint  text NOT NULL,
        alertname    text,
        status       text NOT NULL CHECK (status IN ('firing', 'resolved')),
        severity     text NOT NULL,
        labels       jsonb NOT NULL,
        starts_at    timestamptz,
        ends_at      timestamptz,
        muted_by     text,
        first_seen_at timestamptz NOT NULL,
        updated_at   timestamptz NOT NULL,
        PRIMARY KEY (incident_id, fingerprint)
      );
      CREATE INDEX incident_alerts_firing ON incident_alerts USING gin (labels) WHERE status = 'firing';
      CREATE INDEX incident_alerts_alertname ON incident_alerts (alertname, first_seen_at);

      CREATE TABLE maintenance_windows (
        id          bigserial PRIMARY KEY,
        name        text NOT NULL UNIQUE,
        matchers    jsonb NOT NULL DEFAULT '[]'::jsonb,
        time_zone   text NOT NULL DEFAULT 'UTC',
        starts_at   timestamptz,
        ends_at     timestamptz,
        weekly      jsonb,
        cron        text,
        duration_ms bigint,
        created_by  text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE rejected_deliveries (
        id          bigserial PRIMARY KEY,
        received_at timestamptz NOT NULL DEFAULT now(),
        route       text NOT NULL,
        status      integer NOT NULL,
        reason      text NOT NULL,
        body_prefix text NOT NULL,
        remote_addr text,
        user_agent  text
      );
      CREATE INDEX rejected_deliveries_received_at ON rejected_deliveries (received_at);

      CREATE TABLE slack_messages (
        idempotency_key text PRIMARY KEY,
        channel         text NOT NULL,
        ts              text NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    id: 3,
    name: 'notifications',
    sql: `
      CREATE TABLE notifications (
        id              bigserial PRIMARY KEY,
        idempotency_key text NOT NULL UNIQUE,
        incident_id     text NOT NULL,
        level           integer,
        target          text NOT NULL,
        channel         text NOT NULL,
        kind            text NOT NULL,
        sent_at         timestamptz NOT NULL DEFAULT now(),
        outcome         text NOT NULL CHECK (outcome IN ('delivered', 'failed')),
        provider_id     text,
        error           text
      );
      CREATE INDEX notifications_incident ON notifications (incident_id, sent_at);
    `,
  },
  {
    id: 4,
    name: 'backups',
    sql: `
      CREATE TABLE backups (
        id             bigserial PRIMARY KEY,
        database       text NOT NULL,
        bucket         text NOT NULL,
        object_key     text NOT NULL UNIQUE,
        manifest_key   text NOT NULL,
        bytes          bigint NOT NULL,
        sha256         text NOT NULL,
        server_version text NOT NULL,
        started_at     timestamptz NOT NULL,
        finished_at    timestamptz NOT NULL,
        workflow_id    text NOT NULL,
        verified_at    timestamptz,
        verification   jsonb
      );
      CREATE INDEX backups_database ON backups (database, finished_at DESC);
    `,
  },
  {
    id: 5,
    name: 'maintenance_log',
    sql: `
      CREATE TABLE maintenance_log (
        id              bigserial PRIMARY KEY,
        occurred_at     timestamptz NOT NULL DEFAULT now(),
        database        text NOT NULL,
        action          text NOT NULL,
        target          text NOT NULL,
        dry_run         boolean NOT NULL,
        outcome         text NOT NULL,
        rows            bigint,
        duration_ms     integer,
        details         jsonb NOT NULL DEFAULT '{}'::jsonb,
        workflow_id     text,
        run_id          text,
        idempotency_key text NOT NULL UNIQUE
      );
      CREATE INDEX maintenance_log_database ON maintenance_log (database, occurred_at DESC);
    `,
  },
  {
    id: 6,
    name: 'remediation_actions',
    sql: `
      -- Guardrails: every action a runbook or health check took (or reserved)
      -- on a target, counted per guard key across incidents and restarts.
      CREATE TABLE remediation_actions (
        id              bigserial PRIMARY KEY,
        guard_key       text NOT NULL,
        taken_at        timestamptz NOT NULL DEFAULT now(),
        workflow_id     text,
        run_id          text,
        idempotency_key text NOT NULL UNIQUE,
        details         jsonb NOT NULL DEFAULT '{}'::jsonb
      );
      CREATE INDEX remediation_actions_guard ON remediation_actions (guard_key, taken_at DESC);
    `,
  },
  {
    id: 7,
    name: 'oncall',
    sql: `
      -- Overrides made at run time (opsctl), read when a level fires.
      CREATE TABLE oncall_overrides (
        id          bigserial PRIMARY KEY,
        schedule    text NOT NULL,
        person      text NOT NULL,
        starts_at   timestamptz NOT NULL,
        ends_at     timestamptz NOT NULL CHECK (ends_at > starts_at),
        created_by  text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        removed_by  text,
        removed_at  timestamptz
      );
      CREATE INDEX oncall_overrides_schedule ON oncall_overrides (schedule, ends_at) WHERE removed_at IS NULL;
      -- Who a schedule or person target resolved to, and why (layer n, override).
      ALTER TABLE notifications ADD COLUMN person text, ADD COLUMN resolved_from text;
      -- One-click acknowledgement links from email pages work once.
      -- Signed requests (Slack, PagerDuty) acted on, so a replayed one is refused.
      CREATE TABLE signed_requests_seen (
        source      text NOT NULL,
        signature   text NOT NULL,
        seen_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (source, signature)
      );
      CREATE TABLE ack_tokens_used (
        token_hash  text PRIMARY KEY,
        incident    text NOT NULL,
        person      text NOT NULL,
        used_at     timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    id: 8,
    name: 'point_in_time_recovery',
    sql: `
      -- Physical base backups (pg_basebackup), apart from the logical dumps in backups.
      CREATE TABLE base_backups (
        id                bigserial PRIMARY KEY,
        database          text NOT NULL,
        bucket            text NOT NULL,
        object_key        text NOT NULL UNIQUE,
        manifest_key      text NOT NULL,
        bytes             bigint NOT NULL,
        sha256            text NOT NULL,
        start_lsn         pg_lsn NOT NULL,
        stop_lsn          pg_lsn NOT NULL,
        timeline          int NOT NULL,
        system_identifier text NOT NULL,
        server_version    text NOT NULL,
        started_at        timestamptz NOT NULL,
        finished_at       timestamptz NOT NULL,
        workflow_id       text NOT NULL,
        verified_at       timestamptz
      );
      CREATE INDEX base_backups_database ON base_backups (database, finished_at DESC);
      -- Where each database's WAL archive stands, written by its archiver, read by /metrics.
      CREATE TABLE wal_archive_status (
        database        text PRIMARY KEY,
        last_segment    text,
        archived_lsn    pg_lsn,
        server_lsn      pg_lsn,
        lag_bytes       bigint NOT NULL DEFAULT 0,
        caught_up_at    timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    id: 9,
    name: 'audit_hash_chain',
    sql: `
      -- A tamper-evident audit trail: every row carries the hash of the row before it in its
      -- stream (the action's first word: backup, kubernetes, rollout, ...) and a hash of its own
      -- content, computed by the database itself, so every writer chains alike.
      -- src/db/audit-chain.ts recomputes both from the rows to verify them.
      ALTER TABLE audit_events
        ADD COLUMN stream    text,
        ADD COLUMN chain_seq bigint,
        ADD COLUMN prev_hash text,
        ADD COLUMN row_hash  text;
      CREATE UNIQUE INDEX audit_events_chain ON audit_events (stream, chain_seq);
      -- Where each stream ends, and up to where retention has pruned it from the start.
      CREATE TABLE audit_chain_heads (
        stream      text PRIMARY KEY,
        seq         bigint NOT NULL DEFAULT 0,
        hash        text NOT NULL DEFAULT repeat('0', 64),
        pruned_seq  bigint NOT NULL DEFAULT 0,
        pruned_hash text
      );
      -- A field as "<bytes>:<text>", or "-" for NULL: the concatenation is unambiguous.
      CREATE FUNCTION audit_chain_field(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
        SELECT CASE WHEN value IS NULL THEN '-' ELSE octet_length(value)::text || ':' || value END
      $f$;
      CREATE FUNCTION audit_chain_hash(row_stream text, seq bigint, prev text, e audit_events) RETURNS text LANGUAGE sql STABLE AS $f$
        SELECT encode(sha256(convert_to(
          audit_chain_field(row_stream) || audit_chain_field(seq::text) || audit_chain_field(prev) ||
          audit_chain_field(e.id::text) ||
          audit_chain_field(to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) ||
          audit_chain_field(e.actor) || audit_chain_field(e.action) || audit_chain_field(e.target) ||
          audit_chain_field(e.outcome) || audit_chain_field(e.details::text) ||
          audit_chain_field(e.workflow_id) || audit_chain_field(e.run_id) || audit_chain_field(e.idempotency_key),
          'UTF8')), 'hex')
      $f$;
      -- Appends one row to its stream's chain; the head's row lock orders concurrent writers.
      CREATE FUNCTION audit_chain_append(row_id bigint) RETURNS void LANGUAGE plpgsql AS $f$
      DECLARE
        e audit_events;
        head audit_chain_heads;
        row_stream text;
        digest text;
      BEGIN
        SELECT * INTO e FROM audit_events WHERE id = row_id;
        row_stream := split_part(e.action, '.', 1);
        INSERT INTO audit_chain_heads (stream) VALUES (row_stream) ON CONFLICT DO NOTHING;
        SELECT * INTO head FROM audit_chain_heads WHERE stream = row_stream FOR UPDATE;
        digest := audit_chain_hash(row_stream, head.seq + 1, head.hash, e);
        UPDATE audit_events SET stream = row_stream, chain_seq = head.seq + 1, prev_hash = head.hash, row_hash = digest
         WHERE id = row_id;
        UPDATE audit_chain_heads SET seq = head.seq + 1, hash = digest WHERE stream = row_stream;
      END
      $f$;
      -- AFTER INSERT: a row ON CONFLICT DO NOTHING skipped never takes a place in the chain.
      CREATE FUNCTION audit_chain_on_insert() RETURNS trigger LANGUAGE plpgsql AS $f$
      BEGIN
        PERFORM audit_chain_append(NEW.id);
        RETURN NULL;
      END
      $f$;
      CREATE TRIGGER audit_events_chain AFTER INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_chain_on_insert();
      -- Retention deletes the oldest rows: the chain then starts after the last one deleted.
      CREATE FUNCTION audit_chain_on_delete() RETURNS trigger LANGUAGE plpgsql AS $f$
      BEGIN
        UPDATE audit_chain_heads SET pruned_seq = OLD.chain_seq, pruned_hash = OLD.row_hash
         WHERE stream = OLD.stream AND pruned_seq < OLD.chain_seq;
        RETURN NULL;
      END
      $f$;
      CREATE TRIGGER audit_events_prune AFTER DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_chain_on_delete();
      -- Rows written before the chain existed join it in the order they were written.
      DO $d$
      DECLARE r record;
      BEGIN
        FOR r IN SELECT id FROM audit_events ORDER BY id LOOP
          PERFORM audit_chain_append(r.id);
        END LOOP;
      END
      $d$;
    `,
  },
  {
    id: 10,
    name: 'security_findings',
    sql: `
      -- Vulnerabilities at or above the policy's severity in the image a workload runs, as the
      -- image scan and rollouts saw them; open until the workload no longer runs them.
      CREATE TABLE security_findings (
        workload      text NOT NULL,
        image         text NOT NULL,
        vulnerability text NOT NULL,
        package       text NOT NULL,
        severity      text NOT NULL,
        -- When this workload first ran it, in this image or an earlier one: the finding's age.
        first_seen_at timestamptz NOT NULL,
        last_seen_at  timestamptz NOT NULL,
        resolved_at   timestamptz,
        resolved_by   text,
        incident      text,
        PRIMARY KEY (workload, image, vulnerability, package)
      );
      CREATE INDEX security_findings_open ON security_findings (workload) WHERE resolved_at IS NULL;
    `,
  },
  {
    id: 11,
    name: 'deployment_checks',
    sql: `
      -- What each deployment monitor check saw per deployment, with its health score: read by
      -- /metrics (the newest check of each environment) and opsctl monitor report.
      CREATE TABLE deployment_checks (
        id               bigserial PRIMARY KEY,
        checked_at       timestamptz NOT NULL,
        environment      text NOT NULL,
        namespace        text NOT NULL,
        deployment       text NOT NULL,
        desired          integer NOT NULL,
        ready            integer NOT NULL,
        available        integer NOT NULL,
        updated          integer NOT NULL,
        restarts         integer NOT NULL,
        response_seconds double precision,
        probe_error      text,
        cpu_ratio        double precision,
        memory_ratio     double precision,
        score            integer NOT NULL CHECK (score BETWEEN 0 AND 100),
        state            text NOT NULL CHECK (state IN ('healthy', 'degraded', 'down')),
        reasons          jsonb NOT NULL DEFAULT '[]'::jsonb,
        UNIQUE (environment, namespace, deployment, checked_at)
      );
      CREATE INDEX deployment_checks_environment ON deployment_checks (environment, checked_at DESC);
    `,
  },
  {
    id: 12,
    name: 'slack_messages_sending',
    sql: `
      -- A row without ts marks a post being sent: a send that finds it (its sender died before
      -- Slack's answer reached it) looks for the message in Slack before posting again.
      ALTER TABLE slack_messages ALTER COLUMN ts DROP NOT NULL;
    `,
  },
];
