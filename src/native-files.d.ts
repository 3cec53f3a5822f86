// Files imported with `with { type: "file" }` are paths (embedded in the compiled binary).
declare module "*/diyc-helper" {
  const path: string;
  export default path;
}
declare module "*/diyc-wait" {
  const path: string;
  export default path;
}
