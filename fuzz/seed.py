"""Writes the fuzz targets' seed corpora from the repository's fixtures
(and, when present, the Python experiment_manager's configs in
../shared/compat), in the input formats fuzz/src/lib.rs describes.

    python3 fuzz/seed.py            # into fuzz/corpus/<target>/

Seeds are named by their content's hash, so running it again adds nothing
twice and keeps what the fuzzer found.
"""

import hashlib
import json
import pathlib
import sys

FUZZ = pathlib.Path(__file__).resolve().parent
REPO = FUZZ.parent
ROLES = ["env.yaml", "experiment.yaml", "base.yaml", "trials.yaml"]


def config_dirs():
    roots = [REPO / "tests" / "fixtures" / "valid", REPO / "tests" / "fixtures" / "broken", REPO / "examples"]
    compat = REPO.parent / "shared" / "compat" / "experiment_manager"
    if compat.is_dir():
        roots.append(compat)
    for root in roots:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_dir() and any((path / r).is_file() for r in ROLES):
                    yield path


def single_files():
    for root in [REPO / "tests" / "fixtures"]:
        yield from sorted(root.rglob("*.yaml"))


def seeds():
    config, lsp = [], []
    for d in config_dirs():
        parts = [(d / r).read_bytes() if (d / r).is_file() else b"" for r in ROLES]
        config.append(b"\0".join(parts))
        if (d / "trials.yaml").is_file():
            lsp.append((d / "trials.yaml").read_bytes())
    for f in single_files():
        if f.name not in ROLES:
            config.append(f.read_bytes())
    # A trials file edited: a key half typed, a CRLF line, an emoji (two
    # UTF-16 units), a whole-document replacement.
    lsp.append(b"- name: a\n  settings: {}\n\0\x01\x02\x01\x02  re\0\x00\x00\x00\x00\xf0\x9f\x98\x80 \0\x01\x00\x01\x00\r\n")
    lsp.append(b"- name: a\r\n  repeat: 2\r\n\0\xff\x00\x00\x00- name: b\n  settings: {lr: \n")
    overrides = [
        b"training.lr=0.01\nseed=7",
        b"+extra.key=[1, 2, {a: b}]\nmodel.embedding_dim=abc",
        b"pipeline.command=[python, other.py]\nmodel={type: mlp}\n=1\nnot an override",
    ]
    filters = [
        b"metrics.val_loss < 0.3 and params.training.optimizer = 'adam'",
        b"status = 'SUCCESS' and trial LIKE 'lr_%' order by metrics.val_loss asc limit 5",
        b"tags.team IN ('nlp', 'vision') or not (repeat >= 2)",
        b"metrics.`val_loss` IS NOT NULL order by duration desc, trial",
        b"params.training.lr > 1e-3 and trial ILIKE 'LR%' and id != 'a1'",
        b"metric.val_loss <= -1.5e300 or attributes.status <> \"FAILED\"",
    ]
    events = [
        b'{"type":"metric","key":"loss","value":0.5,"step":3,"epoch":1,"ts":1700000000.25}',
        b'{"type":"metrics","values":{"loss":"NaN","acc":"Infinity","ok":true},"step":4}',
        b'{"type":"param","key":"lr","value":{"a":[1,2]}}\n{"type":"params","values":{"b":"x"}}',
        b'{"type":"tag","key":"k","value":3}\n{"type":"tags","values":{"x":null}}',
        b'{"type":"artifact","path":"model.pt","kind":"checkpoint","epoch":2}',
        b'{"type":"epoch_start","epoch":1}\n{"type":"epoch_end","epoch":1,"values":{"val":0.1}}',
        b'{"type":"batch_end","epoch":1,"batch":7,"values":{"loss":1e308}}\n{"type":"note","text":"hi"}',
    ]
    wire = []
    for msg_type, content in [
        ("execute_request", {"code": "%expman runs", "silent": False}),
        ("execute_request", {"code": "%%expman run\n- name: a\n"}),
        ("kernel_info_request", {}),
        ("complete_request", {"code": "%expman ru", "cursor_pos": 10}),
        ("inspect_request", {"code": "%expman runs", "cursor_pos": 3, "detail_level": 1}),
        ("history_request", {"hist_access_type": "tail", "n": 3}),
        ("is_complete_request", {"code": "%%expman run\n"}),
        ("comm_info_request", {}),
        ("shutdown_request", {"restart": False}),
    ]:
        header = {"msg_id": "1", "session": "s", "username": "u", "date": "2026-01-01T00:00:00Z", "msg_type": msg_type, "version": "5.4"}
        frames = [b"client-id", b"<IDS|MSG>", b"", json.dumps(header).encode(), b"{}", b"{}", json.dumps(content).encode()]
        wire.append(b"\0".join(frames))
    return {"config": config, "overrides": overrides, "filter": filters, "events": events, "wire": wire, "lsp_edits": lsp}


def main() -> int:
    written = 0
    for target, inputs in seeds().items():
        corpus = FUZZ / "corpus" / target
        corpus.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            path = corpus / hashlib.sha1(data).hexdigest()
            if not path.exists():
                path.write_bytes(data)
                written += 1
    print(f"fuzz/seed.py: {written} new seed(s) in {FUZZ / 'corpus'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
