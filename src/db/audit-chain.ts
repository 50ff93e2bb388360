import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * Verifies the audit trail's hash chains (migration 9 builds them): within a
 * stream every row's prev_hash is the row before it's row_hash, its seq follows
 * without a gap, and its row_hash is the SHA-256 of its content, recomputed here
 * independently of the database's own function. A row changed, inserted beside
 * the trigger or deleted out of retention order breaks the chain at that row.
 *
 * The chain proves the rows were not changed after the fact by anyone who did
 * not also rewrite every later row; the compliance report's locked copy of each
 * stream's head is what catches a full rewrite.
 */

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditChainRow {
  id: string;
  occurredAt: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  details: string;
  workflowId: string | null;
  runId: string | null;
  idempotencyKey: string;
  stream: string | null;
  seq: string | null;
  prevHash: string | null;
  rowHash: string | null;
}

export interface StreamVerification {
  stream: string;
  rows: number;
  /** The chain's first seq still kept (earlier rows pruned by retention). */
  firstSeq: number;
  headSeq: number;
  headHash: string;
  ok: boolean;
}

export interface ChainBreak {
  stream: string;
  /** The audit row that does not fit (undefined when rows are missing at the end). */
  id?: string;
  seq?: number;
  reason: string;
}

export interface ChainVerification {
  ok: boolean;
  rows: number;
  streams: StreamVerification[];
  /** The first row that does not fit in each broken stream, in stream order. */
  breaks: ChainBreak[];
}

/** "<bytes>:<text>", or "-" for NULL, as audit_chain_field() in SQL. */
function field(value: string | null): string {
  return value === null ? '-' : `${Buffer.byteLength(value, 'utf8')}:${value}`;
}

/** The content hash of a row at a place in its chain, as audit_chain_hash() in SQL. */
export function auditRowHash(row: AuditChainRow, stream: string, seq: number, prevHash: string): string {
  const canonical = [
    stream,
    String(seq),
    prevHash,
    row.id,
    row.occurredAt,
    row.actor,
    row.action,
    row.target,
    row.outcome,
    row.details,
    row.workflowId,
    row.runId,
    row.idempotencyKey,
  ]
    .map(field)
    .join('');
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

const PAGE = 5000;

async function* rowsOf(pool: pg.Pool, stream: string): AsyncGenerator<AuditChainRow> {
  let after = -1;
  for (;;) {
    const { rows } = await pool.query<AuditChainRow>(
      `SELECT id::text, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "occurredAt",
              actor, action, target, outcome, details::text AS details, workflow_id AS "workflowId", run_id AS "runId",
              idempotency_key AS "idempotencyKey", stream, chain_seq::text AS seq, prev_hash AS "prevHash", row_hash AS "rowHash"
         FROM audit_events WHERE stream = $1 AND chain_seq > $2 ORDER BY chain_seq LIMIT ${PAGE}`,
      [stream, after],
    );
    for (const row of rows) yield row;
    if (rows.length < PAGE) return;
    after = Number(rows.at(-1)!.seq);
  }
}

async function verifyStream(
  pool: pg.Pool,
  head: { stream: string; seq: string; hash: string; prunedSeq: string; prunedHash: string | null },
): Promise<{ summary: StreamVerification; broken?: ChainBreak }> {
  const prunedSeq = Number(head.prunedSeq);
  let expectedSeq = prunedSeq + 1;
  let expectedPrev = prunedSeq === 0 ? GENESIS_HASH : (head.prunedHash ?? GENESIS_HASH);
  let rows = 0;
  let broken: ChainBreak | undefined;
  for await (const row of rowsOf(pool, head.stream)) {
    rows += 1;
    if (broken) continue;
    const seq = Number(row.seq);
    const at = { stream: head.stream, id: row.id, seq };
    if (seq < expectedSeq) {
      broken = { ...at, reason: `row ${row.id} is still here though retention deleted seq ${prunedSeq} after it: rows were deleted out of order` };
    } else if (seq > expectedSeq) {
      broken = { ...at, reason: `seq ${expectedSeq}${seq - 1 > expectedSeq ? `-${seq - 1}` : ''} missing before row ${row.id}: rows were deleted` };
    } else if (row.prevHash !== expectedPrev) {
      broken = { ...at, reason: `row ${row.id} does not follow the row before it (prev_hash ${String(row.prevHash).slice(0, 12)}…, expected ${expectedPrev.slice(0, 12)}…)` };
    } else if (auditRowHash(row, head.stream, seq, expectedPrev) !== row.rowHash) {
      // The hash covers the stream and the action: a row moved to another stream fails here too.
      broken = { ...at, reason: `row ${row.id} was altered: its content does not match its hash` };
    }
    expectedSeq = seq + 1;
    expectedPrev = row.rowHash ?? '';
  }
  const headSeq = Number(head.seq);
  if (!broken && expectedSeq - 1 !== headSeq) {
    broken = {
      stream: head.stream,
      seq: expectedSeq,
      reason: `the chain ends at seq ${expectedSeq - 1} but its head is at ${headSeq}: the newest rows were deleted`,
    };
  } else if (!broken && expectedSeq - 1 > prunedSeq && expectedPrev !== head.hash) {
    broken = { stream: head.stream, seq: headSeq, reason: `the last row's hash does not match the stream's head` };
  }
  return {
    summary: { stream: head.stream, rows, firstSeq: prunedSeq + 1, headSeq, headHash: head.hash, ok: !broken },
    ...(broken ? { broken } : {}),
  };
}

/** The stream a row belongs to: its action's first word, as the trigger decides. */
function streamOf(action: string): string {
  return action.split('.')[0]!;
}

/** Checks every stream's chain; rows outside any chain (written with the trigger disabled) break it too. */
export async function verifyAuditChain(pool: pg.Pool): Promise<ChainVerification> {
  const heads = await pool.query<{ stream: string; seq: string; hash: string; prunedSeq: string; prunedHash: string | null }>(
    `SELECT stream, seq::text, hash, pruned_seq::text AS "prunedSeq", pruned_hash AS "prunedHash" FROM audit_chain_heads ORDER BY stream`,
  );
  const streams: StreamVerification[] = [];
  const breaks: ChainBreak[] = [];
  for (const head of heads.rows) {
    const { summary, broken } = await verifyStream(pool, head);
    streams.push(summary);
    if (broken) breaks.push(broken);
  }
  const outside = await pool.query<{ id: string; action: string }>(
    `SELECT id::text, action FROM audit_events
      WHERE chain_seq IS NULL OR stream IS NULL OR stream NOT IN (SELECT stream FROM audit_chain_heads)
      ORDER BY id LIMIT 1`,
  );
  const stray = outside.rows[0];
  if (stray) breaks.push({ stream: streamOf(stray.action), id: stray.id, reason: `row ${stray.id} is not in any chain: it was written around the audit trigger` });
  return { ok: breaks.length === 0, rows: streams.reduce((sum, stream) => sum + stream.rows, 0), streams, breaks };
}
