// Per-layer progress for pull, import and run's implicit pull, on stderr.
// On a terminal: one bar per layer (bytes, total, speed) and a total line,
// redrawn in place by cli-progress (a well-kept library: no hand-made
// terminal control codes). Otherwise: one line per finished layer.

import type { Descriptor } from "../image/oci-image";
import type { Progress } from "../image/materialize";
import { formatSize } from "./format";
import type { CliContext } from "./context";

export interface LayerProgress {
  progress: Progress;
  /** All layers are in: the final redraw. */
  finish(): void;
  /** Always called: leaves the terminal clean, even after an error. */
  stop(): void;
}

const short = (d: Descriptor) => d.digest.slice(7, 19);

export async function layerProgress(ctx: CliContext): Promise<LayerProgress> {
  if (!ctx.syscalls.isatty(2)) return lineProgress(ctx);
  // Loaded only when drawing: every other diyc command starts without it.
  const { MultiBar, Presets } = await import("cli-progress");
  const multibar = new MultiBar({
    format: "{layer}  [{bar}] {received} / {size}  {speed}",
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    barsize: 30,
    fps: 10,
    stream: process.stderr,
  }, Presets.shades_classic);
  const started = Date.now();
  let totalBytes = 0;
  let totalSize = 0;
  const totalBar = multibar.create(1, 0, { layer: "total       ", received: "0B", size: "0B", speed: "" });
  const bars = new Map<string, { bar: ReturnType<typeof multibar.create>; start: number; received: number }>();
  const speed = (bytes: number, since: number) => `${formatSize(bytes / Math.max((Date.now() - since) / 1000, 0.001))}/s`;
  const redrawTotal = () => {
    totalBar.setTotal(Math.max(totalSize, 1));
    totalBar.update(totalBytes, { received: formatSize(totalBytes), size: formatSize(totalSize), speed: speed(totalBytes, started) });
  };
  return {
    progress: {
      layer(d, event) {
        if (event === "exists") {
          multibar.create(1, 1, { layer: short(d), received: "already", size: "stored", speed: "" });
          return;
        }
        if (event === "start") {
          totalSize += d.size;
          bars.set(d.digest, { bar: multibar.create(Math.max(d.size, 1), 0, { layer: short(d), received: "0B", size: formatSize(d.size), speed: "" }), start: Date.now(), received: 0 });
          redrawTotal();
          return;
        }
        const entry = bars.get(d.digest);
        entry?.bar.update(Math.max(d.size, 1), { received: formatSize(d.size), speed: "done" });
      },
      bytes(d, received) {
        const entry = bars.get(d.digest);
        if (!entry) return;
        totalBytes += received - entry.received;
        entry.received = received;
        entry.bar.update(received, { received: formatSize(received), speed: speed(received, entry.start) });
        redrawTotal();
      },
    },
    finish: redrawTotal,
    stop: () => multibar.stop(),
  };
}

function lineProgress(ctx: CliContext): LayerProgress {
  const started = new Map<string, number>();
  return {
    progress: {
      layer(d, event, info) {
        if (event === "exists") ctx.log(`layer ${short(d)}: already stored`);
        else if (event === "start") started.set(d.digest, Date.now());
        else {
          const seconds = (Date.now() - (started.get(d.digest) ?? Date.now())) / 1000;
          ctx.log(`layer ${short(d)}: ${formatSize(d.size)} ${info?.compression ?? ""} in ${seconds.toFixed(1)}s, done`.replace("  ", " "));
        }
      },
    },
    finish: () => {},
    stop: () => {},
  };
}
