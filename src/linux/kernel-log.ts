// The kernel's log (/dev/kmsg), read from the point where we start: each
// read(2) returns one record ("PRIORITY,SEQ,TIME,FLAGS;TEXT\n"). Opened
// non-blocking, so a read past the last record ends with EAGAIN instead of
// waiting for the next one.

import { closeSync, constants, openSync, readSync } from "node:fs";

const RECORD_MAX = 8192;

export class KernelLog {
  private constructor(private readonly fd: number) {}

  /** Opens the log and skips what is already in it; undefined where it cannot be read (not root, no /dev/kmsg). */
  static fromNow(): KernelLog | undefined {
    let fd: number;
    try {
      fd = openSync("/dev/kmsg", constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
    const log = new KernelLog(fd);
    log.read();
    return log;
  }

  /** The texts of the records logged since the last read. */
  read(): string[] {
    const texts: string[] = [];
    const buffer = Buffer.alloc(RECORD_MAX);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, buffer, 0, RECORD_MAX, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EPIPE") continue; // records were overwritten before we read them: go on with the next
        if (code === "EAGAIN") return texts;
        throw error;
      }
      if (n === 0) return texts;
      const record = buffer.toString("utf8", 0, n);
      texts.push(record.slice(record.indexOf(";") + 1).trimEnd());
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
