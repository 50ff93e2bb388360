import type { Command } from 'commander';
import type pg from 'pg';
import { verifyAuditChain } from '../../db/audit-chain.js';
import { EXIT, printJson, printTable, UserError } from '../output.js';

/** `opsctl audit verify`: checks the audit trail's hash chains and names the first row that does not fit. */
export interface AuditContext {
  pool: () => pg.Pool;
  json: () => boolean;
}

export function registerAuditCommands(program: Command, context: AuditContext): void {
  const audit = program.command('audit').description('the tamper-evident audit trail (verify)');

  audit
    .command('verify')
    .description('recompute every audit stream\'s hash chain; exit 1 naming the first row that does not fit')
    .action(async () => {
      const result = await verifyAuditChain(context.pool());
      if (context.json()) printJson(result);
      else {
        printTable(
          result.streams.map((stream) => ({ ...stream, seqs: `${stream.firstSeq}-${stream.headSeq}`, head: stream.headHash.slice(0, 16), ok: stream.ok ? 'ok' : 'BROKEN' })),
          ['stream', 'rows', 'seqs', 'head', 'ok'],
        );
        if (result.ok) process.stdout.write(`audit chain intact: ${result.rows} rows in ${result.streams.length} streams\n`);
      }
      if (!result.ok) {
        const first = result.breaks[0]!;
        const more = result.breaks.length > 1 ? ` (and ${result.breaks.length - 1} more broken stream${result.breaks.length > 2 ? 's' : ''})` : '';
        throw new UserError(`audit chain broken in stream "${first.stream}"${first.seq !== undefined ? ` at seq ${first.seq}` : ''}: ${first.reason}${more}`, EXIT.failure);
      }
    });
}
