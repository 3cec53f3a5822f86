// Whether a restart policy starts an exited container again, and after what
// delay: pure, so that both the restart itself (restart.ts) and the status
// (status.ts: "restarting" between two runs) ask the same question.

import type { RestartPolicy } from "./container";

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 10_000;

export interface RestartDecision {
  restart: boolean;
  delayMs: number;
  restartCount: number;
}

/** Pure: whether the policy restarts a container that exited with `exitCode`. */
export function decideRestart(
  policy: RestartPolicy,
  exitCode: number | undefined,
  restartCount: number,
  stopRequested: boolean,
): RestartDecision {
  const delayMs = Math.min(FIRST_DELAY_MS * 2 ** restartCount, MAX_DELAY_MS);
  const no = { restart: false, delayMs, restartCount };
  if (stopRequested || policy.policy === "no") return no;
  if (policy.policy === "on-failure") {
    if (exitCode === 0) return no;
    if (policy.maxRetries !== undefined && restartCount >= policy.maxRetries) return no;
  }
  return { restart: true, delayMs, restartCount: restartCount + 1 };
}

