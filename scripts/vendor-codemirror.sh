#!/bin/sh
# Build web/static/vendor/codemirror-<version>.bundle.min.js: CodeMirror 6 (the parts
# scripts/codemirror/entry.js exports) as one minified ES module, from the npm registry,
# at the exact versions of scripts/codemirror/package-lock.json (<version> is that of
# @codemirror/view, CodeMirror's core), with the licences of what it holds beside it in
# codemirror-<version>.LICENSE.txt; then rewrite web/static/vendor/MANIFEST.json. Run it after changing package.json (then `npm install
# --package-lock-only` there to refresh the lock). Nothing of it runs when flowrt runs:
# the editor imports the built file. Needs node and npm; the work happens in a temp dir.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
vendor="$root/web/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp "$here/codemirror/package.json" "$here/codemirror/package-lock.json" \
   "$here/codemirror/entry.js" "$work/"
cd "$work"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
version=$(node -p 'require("./node_modules/@codemirror/view/package.json").version')
name="codemirror-$version.bundle.min.js"
licence="codemirror-$version.LICENSE.txt"
mkdir -p "$vendor"
rm -f "$vendor"/codemirror-*.bundle.min.js "$vendor"/codemirror-*.LICENSE.txt
./node_modules/.bin/esbuild entry.js --bundle --format=esm --minify --target=es2020 \
  --legal-comments=none --log-level=warning --outfile="$vendor/$name"

# The manifest: every package inside the bundle with its exact version and licence.
node - "$vendor" "$name" "$licence" <<'JS'
const fs = require("fs");
const crypto = require("crypto");
const path = require("path");
const [vendor, name, licence] = process.argv.slice(2);
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
const packages = Object.entries(lock.packages)
  .filter(([where, info]) => where.startsWith("node_modules/") && !info.dev)
  .map(([where, info]) => ({ name: where.slice("node_modules/".length), version: info.version,
    license: info.license || JSON.parse(fs.readFileSync(path.join(where, "package.json"), "utf8")).license }))
  .sort((a, b) => a.name.localeCompare(b.name));
const esbuild = lock.packages["node_modules/esbuild"].version;
// MIT asks for the notices to travel with the code: the bundle drops comments, this keeps them.
fs.writeFileSync(path.join(vendor, licence), packages.map((p) => {
  const text = fs.readFileSync(path.join("node_modules", p.name, "LICENSE"), "utf8").trim();
  return `${p.name} ${p.version}\n${"-".repeat(40)}\n${text}\n`;
}).join("\n"));
const bytes = fs.readFileSync(path.join(vendor, name));
const manifest = {
  about: "Third-party files served to the editor as they are. Rebuild with scripts/vendor-codemirror.sh.",
  files: [{
    name,
    sha256: crypto.createHash("sha256").update(bytes).digest("hex"),
    bytes: bytes.length,
    license: [...new Set(packages.map((p) => p.license))].join(", "),
    licenseFile: licence,
    packages,
    built: `esbuild ${esbuild}: scripts/codemirror/entry.js --bundle --format=esm --minify --target=es2020 ` +
      "--legal-comments=none, from the npm registry at the versions of scripts/codemirror/package-lock.json " +
      "(scripts/vendor-codemirror.sh)",
  }],
};
fs.writeFileSync(path.join(vendor, "MANIFEST.json"), JSON.stringify(manifest, null, 2) + "\n");
JS
echo "built $vendor/$name ($(wc -c < "$vendor/$name") bytes)"
