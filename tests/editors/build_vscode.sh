#!/usr/bin/env bash
# Builds the VS Code extension from a clean install of its locked
# dependencies and packages it: editors/code/expman-<version>.vsix.
#
#   tests/editors/build_vscode.sh
#
# Needs Node.js 20+, npm with access to the npm registry (npm ci), python3.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo/editors/code"

fail() {
  echo "build_vscode: FAIL: $*" >&2
  exit 1
}

command -v node >/dev/null 2>&1 || fail "node is not on PATH (Node.js 20 or newer is needed)"
command -v npm >/dev/null 2>&1 || fail "npm is not on PATH"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$node_major" -ge 20 ]] || fail "Node.js $(node --version) is too old; @vscode/vsce needs 20 or newer"

rm -f ./*.vsix
npm ci --no-audit --no-fund || fail "npm ci"
npm run compile || fail "npm run compile"
npm run package || fail "npm run package"

shopt -s nullglob
vsix=(./*.vsix)
[[ ${#vsix[@]} -eq 1 ]] || fail "expected one .vsix in editors/code, found ${#vsix[@]}"
path="$repo/editors/code/${vsix[0]#./}"
# The package must carry the compiled client, its runtime dependency and the schemas.
python3 - "$path" <<'PY' || fail "$path is incomplete"
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = ["extension/out/extension.js", "extension/package.json",
        "extension/node_modules/vscode-languageclient/package.json"]
need += [f"extension/schemas/{n}.schema.json" for n in ("env", "experiment", "base", "trials", "config")]
missing = [n for n in need if n not in names]
if missing:
    print("missing from the .vsix: " + ", ".join(missing), file=sys.stderr)
    sys.exit(1)
PY
echo "build_vscode: ok: $path"
