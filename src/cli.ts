import type { CliIo } from './io.js';
import { declareProgram, type Program } from './commands/program.js';
import { declareList } from './commands/list/command.js';
import { declareShow } from './commands/show/command.js';
import { declarePrune } from './commands/prune/command.js';
import { declareExport } from './commands/export/command.js';
import { declareSecretFingerprint } from './commands/secret-fingerprint/command.js';
import { declareCompletion } from './commands/completion/command.js';
import { declareVersion } from './commands/version/command.js';
import { declareInit } from './commands/init/command.js';
import { declareDoctor } from './commands/doctor/command.js';
import { declareHistory } from './commands/history/command.js';
import { declareStats } from './commands/stats/command.js';
import { declareFollow } from './commands/follow/command.js';
import { declareSeal } from './commands/seal/command.js';
import { declareVerify } from './commands/verify/command.js';

/** Registers each command's declaration (src/commands/<name>/command.ts). Never exits: main.ts maps errors to exit codes. */
export function buildProgram(io: CliIo): Program {
  const program = declareProgram(io);
  declareList(program, io);
  declareShow(program, io);
  declarePrune(program, io);
  declareExport(program, io);
  declareSecretFingerprint(program, io);
  declareInit(program, io);
  declareDoctor(program, io);
  declareHistory(program, io);
  declareStats(program, io);
  declareFollow(program, io);
  declareSeal(program, io);
  declareVerify(program, io);
  declareCompletion(program, io);
  declareVersion(program, io);
  return program;
}
