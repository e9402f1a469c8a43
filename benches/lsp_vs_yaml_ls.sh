#!/usr/bin/env bash
# The language server side by side with yaml-language-server, in the same
# run, over stdio with the same client (benches/lsp_bench.py), on generated
# trials.yaml files of ~5,000 and ~50,000 lines. yaml-language-server goes
# into a throwaway directory (YAML_LS_DIR, default /tmp/expman-bench-yamlls)
# with npm.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${YAML_LS_DIR:-/tmp/expman-bench-yamlls}"
server="$dir/node_modules/yaml-language-server/bin/yaml-language-server"
if [[ ! -f "$server" ]]; then
  echo "installing yaml-language-server into $dir ..." >&2
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --silent yaml-language-server@latest
fi
echo "yaml-language-server $(node -p "require('$dir/node_modules/yaml-language-server/package.json').version"), node $(node --version)"
cargo build -q --release --bin expman
python3 benches/lsp_bench.py target/release/expman "$server" 500 5000
