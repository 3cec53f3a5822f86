// What a recorded run (runtime/prepared.ts) is told by the layers below the
// runtime: each host step as an op and its fields, and each file the steps
// depend on. An interface here, so that image/ can describe its own steps
// without importing the runtime.

export interface HostStepRecorder {
  /** One step: an op of native/front.c and its fields. */
  add(op: string, ...fields: string[]): void;
  /** The recipe holds while `path` is this very file, unchanged. */
  sameFile(path: string): void;
}
