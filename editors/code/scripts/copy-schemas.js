// Copies the checked-in JSON Schemas (schema/json/*.schema.json at the
// repository root) into schemas/, where package.json's `yamlValidation`
// entries point. Run by `npm run compile`, so the .vsix always carries the
// schemas of the commit it was built from.
"use strict";

const fs = require("fs");
const path = require("path");

const source = path.resolve(__dirname, "..", "..", "..", "schema", "json");
const target = path.resolve(__dirname, "..", "schemas");
const names = ["env", "experiment", "base", "trials", "config"].map((n) => `${n}.schema.json`);

fs.rmSync(target, { recursive: true, force: true });
fs.mkdirSync(target, { recursive: true });
for (const name of names) {
  const from = path.join(source, name);
  if (!fs.existsSync(from)) {
    console.error(`copy-schemas: ${from} is missing (run from a checkout of the expman repository)`);
    process.exit(1);
  }
  fs.copyFileSync(from, path.join(target, name));
}
console.log(`copy-schemas: ${names.length} schemas from ${source}`);
