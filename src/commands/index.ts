import type { Command } from 'commander';
import type { Ctx } from '../cli/context.js';
import { registerStart } from './start.js';
import { registerPs } from './ps.js';
import { registerExec } from './exec.js';
import { registerStop } from './stop.js';
import { registerRestart } from './restart.js';
import { registerStatus } from './status.js';
import { registerDown } from './down.js';
import { registerHint } from './hint.js';
import { registerCheck } from './check.js';
import { registerDebrief } from './debrief.js';
import { registerGiveUp } from './give-up.js';
import { registerAnswer } from './answer.js';
import { registerCases } from './cases.js';
import { registerExplain } from './explain.js';
import { registerMap } from './map.js';
import { registerSubmit } from './submit.js';

export type Register = (program: Command, ctx: Ctx) => void;

export const commands: Register[] = [registerStart, registerPs, registerExec, registerStop, registerRestart, registerStatus, registerDown,
  registerHint, registerCheck, registerDebrief, registerGiveUp, registerAnswer, registerCases, registerExplain, registerMap, registerSubmit];
