#!/usr/bin/env python3
"""Checks editors/helix/languages.toml without Helix (not packaged for Debian 12).

Parses the file with tomllib (Python 3.11+) and checks what Helix would read:
the `expman` language server runs `expman lsp`, the yaml language lists it
beside yaml-language-server, feature names are ones Helix knows, and
formatting stays with yaml-language-server.

    python3 tests/editors/helix_config.py [path/to/languages.toml]
"""

import pathlib
import sys
import tomllib

# Helix's LanguageServerFeature names (book/src/languages.md).
HELIX_FEATURES = {
    "format", "goto-declaration", "goto-definition", "goto-type-definition",
    "goto-reference", "goto-implementation", "signature-help", "hover",
    "document-highlight", "completion", "code-action", "document-links",
    "workspace-command", "document-symbols", "workspace-symbols", "diagnostics",
    "pull-diagnostics", "rename-symbol", "inlay-hints", "document-colors",
    "call-hierarchy",
}
# What `expman lsp` serves that Helix can use (it shows no code lenses or folds).
EXPMAN_FEATURES = {"diagnostics", "completion", "hover", "goto-definition", "document-symbols", "code-action"}
KNOWN_SETTINGS = {"unknownKeys", "overrides"}
SEVERITIES = {"warning", "error", "off"}


def check(path: pathlib.Path) -> list[str]:
    errors: list[str] = []
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        return [f"cannot read {path}: {e}"]

    server = doc.get("language-server", {}).get("expman")
    if not isinstance(server, dict):
        return ["no [language-server.expman] table"]
    if server.get("command") != "expman":
        errors.append(f'language-server.expman.command is {server.get("command")!r}, expected "expman"')
    if server.get("args") != ["lsp"]:
        errors.append(f'language-server.expman.args is {server.get("args")!r}, expected ["lsp"]')
    config = server.get("config", {})
    if not isinstance(config, dict):
        errors.append("language-server.expman.config is not a table")
    else:
        diagnostics = config.get("diagnostics", {})
        for key, value in diagnostics.items():
            if key not in KNOWN_SETTINGS:
                errors.append(f"unknown setting config.diagnostics.{key}")
            elif value not in SEVERITIES:
                errors.append(f"config.diagnostics.{key} = {value!r}, expected one of {sorted(SEVERITIES)}")

    yaml = [lang for lang in doc.get("language", []) if lang.get("name") == "yaml"]
    if len(yaml) != 1:
        return errors + [f'expected one [[language]] with name = "yaml", found {len(yaml)}']
    servers = yaml[0].get("language-servers")
    if not isinstance(servers, list):
        return errors + ["the yaml language has no language-servers list"]

    entries: dict[str, tuple[set[str], set[str]]] = {}
    for entry in servers:
        if isinstance(entry, str):
            entries[entry] = (set(), set())
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            errors.append(f"language-servers entry {entry!r} is neither a name nor a table with a name")
            continue
        unknown_keys = set(entry) - {"name", "only-features", "except-features"}
        if unknown_keys:
            errors.append(f"language-servers entry {entry['name']!r} has unknown keys {sorted(unknown_keys)}")
        only = set(entry.get("only-features", []))
        excluded = set(entry.get("except-features", []))
        for feature in sorted((only | excluded) - HELIX_FEATURES):
            errors.append(f"{entry['name']}: {feature!r} is not a Helix language server feature")
        entries[entry["name"]] = (only, excluded)

    def has(name: str, feature: str) -> bool:
        only, excluded = entries[name]
        return (not only or feature in only) and feature not in excluded

    if "expman" not in entries:
        errors.append("the yaml language does not list expman")
    if "yaml-language-server" not in entries:
        errors.append("the yaml language no longer lists yaml-language-server (Helix's default for YAML)")
    if "expman" in entries and "yaml-language-server" in entries:
        missing = sorted(f for f in EXPMAN_FEATURES if not has("expman", f))
        if missing:
            errors.append(f"expman is kept from features it serves: {missing}")
        if has("expman", "format"):
            errors.append("expman does not format; leave format to yaml-language-server (only-features/except-features)")
        if not has("yaml-language-server", "format"):
            errors.append("yaml-language-server lost formatting")
    return errors


def main() -> int:
    repo = pathlib.Path(__file__).resolve().parents[2]
    path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else repo / "editors" / "helix" / "languages.toml"
    errors = check(path)
    for error in errors:
        print(f"helix_config: FAIL: {path}: {error}", file=sys.stderr)
    if not errors:
        print(f"helix_config: ok: {path}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
