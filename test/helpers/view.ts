/** A case's view of a lab built from a plan and a draw alone, as the unit tests of a case need it. */
import type { CaseDraw, RunView } from '../../src/cases/case.js';
import { planView } from '../../src/core/lab.js';
import type { LabPlan } from '../../src/core/model.js';

/** The core's own view, its commands written as a learner with the installed package types them. */
export function viewOf(plan: LabPlan, draw: CaseDraw): RunView {
  return { ...planView(plan, draw), cli: `mystery --name ${plan.lab}` };
}
