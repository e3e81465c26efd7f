// Builds the review app into cds_hooks/static/app/ (committed, so a clone runs without node).
// Reproducible: pinned esbuild + fhirclient (package-lock.json), no timestamps in the output.
//   npm ci && npm run build      (from cds_hooks/review/web)
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
// DERM3R_APP_OUT: build elsewhere (the test that checks the committed bundle is reproducible).
const out = process.env.DERM3R_APP_OUT || join(here, "..", "..", "static", "app");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { launch: join(src, "launch.js"), app: join(src, "app.js") },
  outdir: out,
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: true,
  // fhirclient's "pure" mode: no fetch/AbortController polyfills (every target browser has them).
  define: { FHIRCLIENT_PURE: "true" },
  // Licence texts of everything bundled are collected into THIRD_PARTY_LICENSES.txt below.
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

// One licence file for every npm package that ended up in a bundle (from esbuild's metafile).
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.add(match[1]);
}
const notices = [...packages].sort().map((name) => {
  const dir = join(here, "node_modules", name);
  const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).sort().find((f) => /^licen[cs]e/i.test(f)); // sorted: same pick on every filesystem
  const text = file && existsSync(join(dir, file)) ? readFileSync(join(dir, file), "utf8").trim() : `License: ${meta.license}`;
  return `${name}@${meta.version} (${meta.license})\n\n${text}\n`;
});
writeFileSync(join(out, "THIRD_PARTY_LICENSES.txt"),
  `Third-party software bundled into app.js and launch.js\n\n${notices.join("\n" + "-".repeat(72) + "\n\n")}`);

for (const name of readdirSync(src)) {
  if (name.endsWith(".html") || name.endsWith(".css") || name.endsWith(".svg")) {
    copyFileSync(join(src, name), join(out, name));
  }
}
console.log(`review app built into ${out}`);
