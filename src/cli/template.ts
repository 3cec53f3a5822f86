// --format with Go template syntax, the subset docker users type:
//   {{.Names}}\t{{.Status}}   fields, with \t and \n escapes
//   {{json .}}  {{json .Ports}}   a value as JSON
//   table {{.Names}}\t{{.Image}}   a header line first, columns aligned
// Hand-written: no maintained npm package implements Go's text/template, and
// this subset (fields, json, table) is what `docker ps --format` examples use.

import { UsageError } from "../linux/errors";
import { formatTable } from "./format";

type Row = Record<string, unknown>;

interface Piece {
  text?: string;
  field?: string;
  json?: boolean;
}

/** docker's header for a field: Names → NAMES, RunningFor → RUNNING FOR. */
function headerOf(field: string): string {
  return field.replace(/([a-z])([A-Z])/g, "$1 $2").toUpperCase();
}

function parse(template: string, fields: readonly string[]): Piece[] {
  const pieces: Piece[] = [];
  const unescaped = template.replaceAll("\\t", "\t").replaceAll("\\n", "\n");
  let rest = unescaped;
  while (rest.length > 0) {
    const open = rest.indexOf("{{");
    if (open < 0) {
      pieces.push({ text: rest });
      break;
    }
    if (open > 0) pieces.push({ text: rest.slice(0, open) });
    const close = rest.indexOf("}}", open);
    if (close < 0) throw new UsageError(`invalid --format ${JSON.stringify(template)}: "{{" without "}}"`);
    const action = rest.slice(open + 2, close).trim();
    const match = /^(json\s+)?\.([A-Za-z]*)$/.exec(action);
    if (!match) throw new UsageError(`invalid --format ${JSON.stringify(template)}: {{${action}}} is not supported (use {{.Field}} or {{json .}})`);
    const field = match[2]!;
    if (field !== "" && !fields.includes(field)) {
      throw new UsageError(`invalid --format ${JSON.stringify(template)}: no field ${field} (fields: ${fields.join(", ")})`);
    }
    if (field === "" && !match[1]) throw new UsageError(`invalid --format ${JSON.stringify(template)}: {{.}} needs json: {{json .}}`);
    pieces.push({ field, json: Boolean(match[1]) });
    rest = rest.slice(close + 2);
  }
  return pieces;
}

function render(pieces: Piece[], row: Row): string {
  return pieces.map((p) => {
    if (p.text !== undefined) return p.text;
    const value = p.field ? row[p.field] : row;
    if (p.json) return JSON.stringify(value);
    return value === undefined || value === null ? "" : String(value);
  }).join("");
}

/** Renders `rows` with a docker-style template; `fields` are the names a template may use. */
export function renderTemplate(template: string, rows: Row[], fields: readonly string[]): string[] {
  const table = /^table(\s|$)/.test(template);
  const pieces = parse(table ? template.replace(/^table\s*/, "") : template, fields);
  if (!table) return rows.map((row) => render(pieces, row));
  // A table: the template's tabs separate columns, aligned as the default table is.
  const header = pieces.map((p) => (p.text !== undefined ? p.text : p.field ? headerOf(p.field) : "")).join("");
  const lines = [header, ...rows.map((row) => render(pieces, row))];
  return formatTable(lines.map((line) => line.split("\t"))).split("\n");
}
