// Builds the web client into dist/ (committed, embedded by src/relay/web.rs), and with
// --tests the unit tests into .test-build/. The bundle's first line records a hash of its
// sources; a Rust test (tests/integration/web.rs) recomputes it, so a stale bundle fails
// `cargo test` without needing Node.js.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;

/** Every file the bundle is made from, as paths relative to web/, sorted. */
function sources() {
  const out = ["build.mjs", "package-lock.json"];
  const walk = (dir) => {
    for (const name of readdirSync(join(here, dir))) {
      const rel = `${dir}/${name}`;
      if (statSync(join(here, rel)).isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk("src");
  return out.sort();
}

/** sha256 over "path\nlength\n" + bytes + "\n" for each source file in order. */
export function sourceHash() {
  const h = createHash("sha256");
  for (const rel of sources()) {
    const bytes = readFileSync(join(here, rel));
    h.update(`${rel}\n${bytes.length}\n`);
    h.update(bytes);
    h.update("\n");
  }
  return h.digest("hex");
}

const tests = process.argv.includes("--tests");
if (tests) {
  mkdirSync(join(here, ".test-build"), { recursive: true });
  const entries = readdirSync(join(here, "test")).filter((f) => f.endsWith(".ts"));
  await build({
    entryPoints: entries.map((f) => join(here, "test", f)),
    outdir: join(here, ".test-build"),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
} else {
  mkdirSync(join(here, "dist"), { recursive: true });
  await build({
    entryPoints: [join(here, "src/app.ts")],
    outfile: join(here, "dist/app.js"),
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    legalComments: "none",
    banner: { js: `/* pigeon-web sources sha256:${sourceHash()} */` },
    logLevel: "warning",
  });
  copyFileSync(join(here, "src/index.html"), join(here, "dist/index.html"));
  copyFileSync(join(here, "src/app.css"), join(here, "dist/app.css"));
}
