// The caller's environment, noting each name a command reads: a recorded run
// (cli/prepared.ts) holds only while those variables are the same, whatever
// else the environment holds (a shell's OLDPWD, a benchmark's padding).

/** Stands for "every name": the command listed the whole environment. */
export const WHOLE_ENVIRONMENT = "*";

export interface TrackedEnvironment {
  env: Record<string, string | undefined>;
  /** The names read so far (WHOLE_ENVIRONMENT if it was listed). */
  reads: ReadonlySet<string>;
  /** The values as they are, without counting as reads. */
  values: Readonly<Record<string, string | undefined>>;
}

export function trackEnvironment(values: Record<string, string | undefined>): TrackedEnvironment {
  const reads = new Set<string>();
  const note = (key: string | symbol) => {
    if (typeof key === "string") reads.add(key);
  };
  const env = new Proxy(values, {
    get(target, key) {
      note(key);
      return Reflect.get(target, key);
    },
    has(target, key) {
      note(key);
      return Reflect.has(target, key);
    },
    getOwnPropertyDescriptor(target, key) {
      note(key);
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    ownKeys(target) {
      reads.add(WHOLE_ENVIRONMENT);
      return Reflect.ownKeys(target);
    },
  });
  return { env, reads, values };
}
