import { describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { buildProgram } from '../../src/cli.js';

// The --help of the binary and of every registered command, checked in under __snapshots__/help/, so that a change to
// any of them shows in review. A new command is picked up here by itself; write its file with
// `npx vitest run test/acceptance/help-snapshots.test.ts -u` and commit it with the command.

const quiet = { stdout: process.stdout, stderr: process.stderr, env: {}, cwd: process.cwd(), stdoutIsTty: false, stderrIsTty: false };
const commands = buildProgram(quiet).commands.map((command) => command.name());

describe('--help snapshots', () => {
  const cases: [string, string[]][] = [['api7-audit', []], ...commands.map((name): [string, string[]] => [name, [name]])];
  it.each(cases)('%s --help', async (name, argv) => {
    const result = await spawnCli([...argv, '--help'], { env: { PATH: process.env.PATH } });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    await expect(result.stdout).toMatchFileSnapshot(`__snapshots__/help/${name}.txt`);
  });
});
