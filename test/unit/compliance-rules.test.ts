import { describe, expect, it } from 'vitest';
import { complianceSummary, complianceWindow, evaluateControls, type ComplianceEvidence } from '../../src/domain/compliance.js';

const HOUR = 3_600_000;

function evidence(overrides: Partial<ComplianceEvidence> = {}): ComplianceEvidence {
  return {
    window: complianceWindow({ month: '2026-12', at: '2027-01-01T06:00:00Z' }),
    generatedAt: '2027-01-01T06:00:00Z',
    backups: [{ database: 'default', taken: 31, maxGapMs: 24 * HOUR }],
    drills: [{ database: 'default', passed: 4, failed: 0 }],
    rollouts: [],
    incidents: [],
    runbooks: [],
    changesOutsideWindows: { windows: false, changes: [] },
    auditChain: { ok: true, rows: 10, heads: [{ stream: 'rollout', seq: 10, hash: 'a'.repeat(64) }], breaks: [] },
    ...overrides,
  };
}

describe('compliance controls', () => {
  it('cover the previous calendar month in UTC, across a year end, or the month asked for', () => {
    expect(complianceWindow({ at: '2027-01-01T06:00:00Z' })).toEqual({ month: '2026-12', start: '2026-12-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' });
    expect(complianceWindow({ at: '2026-03-01T00:00:00Z' })).toEqual({ month: '2026-02', start: '2026-02-01T00:00:00.000Z', end: '2026-03-01T00:00:00.000Z' });
    expect(() => complianceWindow({ month: '2026-1', at: '2026-03-01T00:00:00Z' })).toThrow('month must be YYYY-MM, not "2026-1"');
  });

  it('do not count an incident late before its target has passed, only once it has', () => {
    const incidents = [
      { id: 'answered', severity: 'high', openedAt: '2026-12-30T10:00:00Z', respondedAt: '2026-12-30T10:20:00Z', responseMs: 20 * 60_000, targetMs: HOUR },
      // Opened at 23:50 on the last day; the report runs at 06:00 the next day, within its 24 h.
      { id: 'fresh', severity: 'low', openedAt: '2026-12-31T23:50:00Z', targetMs: 24 * HOUR, pending: true },
    ];
    const [, , , response] = evaluateControls(evidence({ incidents }), { backupMaxGapMs: 26 * HOUR });
    expect(response).toEqual({ id: 'incident-response', name: 'Incidents responded to within target', passed: true, detail: '2 incidents, 1 within target, 1 not answered yet within target' });

    const [, , , late] = evaluateControls(evidence({ incidents: [{ ...incidents[1]!, pending: false }] }), { backupMaxGapMs: 26 * HOUR });
    expect(late).toMatchObject({ passed: false, detail: '1 incidents, 0 within target; late or unanswered: fresh (low, no response against 24.0 h)' });
  });

  it('fail a database with no backup at all, and an approval window change nobody allowed', () => {
    const controls = evaluateControls(
      evidence({
        backups: [{ database: 'orders', taken: 0, maxGapMs: 31 * 24 * HOUR }],
        changesOutsideWindows: { windows: true, changes: [{ at: '2026-12-24T03:00:00.000Z', actor: 'bob', action: 'rollout.image-set', target: 'k8s/shop/deployment/api' }] },
      }),
      { backupMaxGapMs: 26 * HOUR },
    );
    expect(controls.map((control) => [control.id, control.passed])).toEqual([
      ['backups', false],
      ['restore-drills', true],
      ['rollouts', true],
      ['incident-response', true],
      ['runbooks', true],
      ['change-windows', false],
      ['audit-trail', true],
    ]);
    expect(complianceSummary(controls)).toBe('5/7 controls passed (failed: backups, change-windows)');
  });
});
