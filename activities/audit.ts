import { Context } from '@temporalio/activity';
import type pg from 'pg';
import { writeAuditEvent, type AuditEvent } from '../src/db/audit.js';

export type { AuditEvent, AuditOutcome } from '../src/db/audit.js';

export interface AuditDeps {
  pool: pg.Pool;
}

export function createAuditActivities(deps: AuditDeps) {
  return {
    async recordAudit(event: AuditEvent): Promise<{ id: string; inserted: boolean }> {
      const { workflowExecution } = Context.current().info;
      return writeAuditEvent(deps.pool, event, workflowExecution);
    },
  };
}
