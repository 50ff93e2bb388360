import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** The lint rules that keep workflow code deterministic are real: they refuse what they must. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function lint(file: string) {
  const eslint = new ESLint({ cwd: ROOT, ignore: false });
  const [result] = await eslint.lintFiles([file]);
  return result!.messages.map((message) => ({ line: message.line, rule: message.ruleId }));
}

describe('workflow lint rules', () => {
  it('refuse Node APIs, I/O libraries, clients, value imports of activities and floating promises', async () => {
    const messages = await lint('test/fixtures/workflows/forbidden-imports.ts');
    expect(messages).toEqual(
      expect.arrayContaining([
        { line: 3, rule: 'no-restricted-imports' },
        { line: 4, rule: 'no-restricted-imports' },
        { line: 5, rule: 'no-restricted-imports' },
        { line: 6, rule: 'no-restricted-imports' },
        { line: 11, rule: '@typescript-eslint/no-floating-promises' },
      ]),
    );
  });

  it('accept @temporalio/workflow, src/domain and type imports of activities', async () => {
    expect(await lint('test/fixtures/workflows/allowed-imports.ts')).toEqual([]);
  });

  it('refuse workflow code outside workflows/, and accept its contract files and type imports', async () => {
    expect(await lint('test/fixtures/clients/workflow-imports.ts')).toEqual([{ line: 3, rule: 'no-restricted-imports' }]);
  });
});
