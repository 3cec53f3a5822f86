// How the CLI prints: aligned tables and byte sizes. One place for both, so
// every command's output looks alike (docker's conventions).

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1536 → "1.5KiB" (docker stats' style); with `space`, "1.5 KiB" (for sentences). */
export function formatBytes(bytes: number, options: { space?: boolean } = {}): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const number = unit === 0 ? String(value) : value.toFixed(2).replace(/\.?0+$/, "");
  return `${number}${options.space ? " " : ""}${UNITS[unit]}`;
}

/** 1.9MB, 512kB, 40B: decimal units, as docker prints image sizes (stats use formatBytes). */
export function formatSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)}${units[unit]}`;
}

/** Rows of cells → lines with aligned columns, three spaces apart; no trailing blanks. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return "";
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? "").length)));
  return rows.map((row) => row.map((cell, col) => cell.padEnd(widths[col]!)).join("   ").trimEnd()).join("\n");
}
