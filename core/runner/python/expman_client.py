"""expman_client: report metrics, params, tags and artifacts to expman.

expman puts this file on the PYTHONPATH of every run, so `import expman_client`
works with nothing installed. Each call appends one JSON line to the run's
event file (named by EXPMAN_EVENTS) with a single write(2): once a call
returns, what it reported survives a crash of the trial or of expman.

Outside expman (no EXPMAN_EVENTS in the environment) every call is a no-op,
`config()` returns {} (or the file named by EXPMAN_CONFIG), and
`should_stop()` is False, so scripts still run on their own.

    import expman_client as em

    cfg = em.config()
    em.log_params({"lr": cfg["training"]["lr"]})
    for epoch in range(cfg["training"]["epochs"]):
        with em.epoch(epoch):
            ...
            em.log_metrics({"loss": loss, "val_loss": val_loss}, step=epoch)
        if em.should_stop():
            break
    em.log_artifact("model.pt", kind="model")
"""

import contextlib
import json
import math
import os
import time

__all__ = [
    "active",
    "batch_end",
    "checkpoint_due",
    "config",
    "epoch",
    "log_artifact",
    "log_checkpoint",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "note",
    "run_dir",
    "run_id",
    "seed",
    "set_tag",
    "set_tags",
    "should_stop",
]

_EVENTS = os.environ.get("EXPMAN_EVENTS")
_STOP_FILE = os.environ.get("EXPMAN_STOP_FILE")
_fd = None
_epoch = None
_config = None


def active():
    """True when running under expman."""
    return _EVENTS is not None


def _number(value):
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _emit(event):
    global _fd
    if _EVENTS is None:
        return
    if _fd is None:
        _fd = os.open(_EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    line = json.dumps(event, separators=(",", ":"), default=str) + "\n"
    os.write(_fd, line.encode("utf-8"))


def log_metric(key, value, step=None, epoch=None):
    """Records one value of a metric. Without `step`, the next step of this key."""
    event = {"type": "metric", "key": str(key), "value": _number(value), "ts": time.time()}
    if step is not None:
        event["step"] = int(step)
    if epoch is not None:
        event["epoch"] = int(epoch)
    elif _epoch is not None:
        event["epoch"] = _epoch
    _emit(event)


def log_metrics(values, step=None, epoch=None):
    """Records several metrics at once (one line: the cheap way to log many)."""
    event = {
        "type": "metrics",
        "values": {str(k): _number(v) for k, v in values.items()},
        "ts": time.time(),
    }
    if step is not None:
        event["step"] = int(step)
    if epoch is not None:
        event["epoch"] = int(epoch)
    elif _epoch is not None:
        event["epoch"] = _epoch
    _emit(event)


def log_param(key, value):
    _emit({"type": "param", "key": str(key), "value": value})


def log_params(values):
    _emit({"type": "params", "values": dict(values)})


def set_tag(key, value):
    _emit({"type": "tag", "key": str(key), "value": str(value)})


def set_tags(values):
    _emit({"type": "tags", "values": {str(k): str(v) for k, v in values.items()}})


def log_artifact(path, kind="file"):
    """Records a file (relative to the run directory, or absolute); expman
    stores its size and SHA-256."""
    event = {"type": "artifact", "path": os.fspath(path), "kind": kind}
    if _epoch is not None:
        event["epoch"] = _epoch
    _emit(event)


def log_checkpoint(path, epoch=None):
    """Records a checkpoint file written at `epoch` (default: the current one)."""
    event = {"type": "artifact", "path": os.fspath(path), "kind": "checkpoint"}
    at = epoch if epoch is not None else _epoch
    if at is not None:
        event["epoch"] = int(at)
    _emit(event)


def checkpoint_due(epoch):
    """True when a checkpoint is due after `epoch` (0-based) under the
    `checkpoint` callback's `every` (default 1: every epoch). False when
    the run has no checkpoint callback."""
    callbacks = (config().get("pipeline") or {}).get("callbacks") or []
    for cb in callbacks:
        if cb.get("type") in ("checkpoint", "CheckpointCallback"):
            every = cb.get("every") or cb.get("interval") or 1
            return (int(epoch) + 1) % int(every) == 0
    return False


def note(text):
    """A free-text note in the run's record."""
    _emit({"type": "note", "text": str(text)})


@contextlib.contextmanager
def epoch(index):
    """Marks an epoch: metrics logged inside carry it."""
    global _epoch
    _epoch = int(index)
    _emit({"type": "epoch_start", "epoch": _epoch, "ts": time.time()})
    try:
        yield _epoch
    finally:
        _emit({"type": "epoch_end", "epoch": _epoch, "ts": time.time()})


def batch_end(batch, values=None):
    """Marks the end of a batch, optionally with batch-level metrics."""
    event = {"type": "batch_end", "batch": int(batch)}
    if _epoch is not None:
        event["epoch"] = _epoch
    if values:
        event["values"] = {str(k): _number(v) for k, v in values.items()}
    _emit(event)


def config():
    """The run's resolved config as a dict (secrets masked)."""
    global _config
    if _config is None:
        path = os.environ.get("EXPMAN_CONFIG")
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                _config = json.load(f)
        else:
            _config = {}
    return _config


def run_id():
    return os.environ.get("EXPMAN_RUN_ID")


def run_dir():
    return os.environ.get("EXPMAN_RUN_DIR", os.getcwd())


def seed(default=0):
    """The run's seed (base seed + repeat index)."""
    return int(os.environ.get("EXPMAN_SEED", default))


def should_stop():
    """True when expman asks this run to stop (early stopping, Ctrl-C):
    finish the epoch, save what matters, and exit."""
    return _STOP_FILE is not None and os.path.exists(_STOP_FILE)
