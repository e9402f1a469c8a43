"""expman from Python: experiments from training code, the record as polars
DataFrames, and the ``%expman`` magics in IPython (``%load_ext expman``).

Logging::

    import expman

    with expman.start_experiment(name="baseline", experiment="mnist") as exp:
        exp.log_parameters({"lr": 0.01, "layers": [64, 32]})
        for epoch in range(10):
            with exp.epoch(epoch):
                exp.log_metric("val_loss", 1.0 / (epoch + 1))

The run ends SUCCESS, FAILED with the exception's type and message when the
block raises, or KILLED on KeyboardInterrupt. It is recorded in the same
workspace database as ``expman run`` (the workspace or config directory the
current directory is in, ``EXPMAN_WORKSPACE``, or ``./outputs``). A script
launched by ``expman run`` reports into the run expman launched it as, so one
script works both ways.

Querying::

    runs = expman.runs("metrics.val_loss < 0.2", order_by=["metrics.val_loss"])
    curves = expman.metrics(["baseline"], keys=["val_loss"])

Each returns a ``polars.DataFrame`` (``.to_pandas()`` where pandas is
installed): the same filter language and the same columns as ``expman runs``.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

from . import _expman
from ._expman import EpochScope, ExpmanError, Run

__version__ = _expman.VERSION

__all__ = [
    "EpochScope",
    "ExpmanError",
    "Run",
    "active_run",
    "artifacts",
    "compare",
    "end",
    "get_artifact",
    "lineage",
    "load_ipython_extension",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_parameter",
    "log_parameters",
    "log_params",
    "metrics",
    "runs",
    "set_tag",
    "set_tags",
    "sql",
    "start_experiment",
    "summary",
]

PathLike = Union[str, "os.PathLike[str]"]


def _default_name() -> str:
    """The script's name without its suffix (``train`` for ``train.py``), or
    ``notebook`` in an interactive session."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else "")
    stem = Path(path).stem if path and not path.startswith("-") else ""
    return stem or "notebook"


def start_experiment(
    name: Optional[str] = None,
    experiment: Optional[str] = None,
    workspace: Optional[PathLike] = None,
    code_dir: Optional[PathLike] = None,
    log_hardware: bool = False,
    experiment_uid: Optional[str] = None,
    tags: Optional[Mapping[str, Any]] = None,
    parent: Optional[Run] = None,
    durable: bool = False,
    hardware_interval: float = 2.0,
    flush_interval: float = 0.1,
) -> Run:
    """Starts a run and makes it the active one (the target of the
    module-level ``log_*`` shortcuts until it ends).

    name: the run's trial name (default: the script's name); the runs of a
        trial are its repeats 0, 1, 2, ...
    experiment: the experiment (default: the config directory's, else
        ``default``).
    workspace: where the record is (default: the workspace or config
        directory the current directory is in, ``EXPMAN_WORKSPACE``, else
        ``./outputs``).
    code_dir: snapshot the code in this directory, with its git state.
    log_hardware: sample this process's CPU, memory and GPUs every
        ``hardware_interval`` seconds.
    experiment_uid: continue the run with this id (a script restarted after
        preemption), its metric steps going on where they stopped.
    tags: tags to start with.
    parent: record the run as a child of this one (as
        ``parent.start_experiment(...)`` does).
    durable: also write every call to the run's event file at once, so that
        even a kill -9 loses nothing (otherwise at most the last
        ``flush_interval`` seconds of calls).
    """
    return _expman.start(
        name or _default_name(),
        experiment=experiment,
        workspace=os.fspath(workspace) if workspace is not None else None,
        code_dir=os.fspath(code_dir) if code_dir is not None else None,
        log_hardware=log_hardware,
        experiment_uid=experiment_uid,
        tags=dict(tags) if tags else None,
        parent=parent,
        durable=durable,
        hardware_interval=hardware_interval,
        flush_interval=flush_interval,
    )


def active_run() -> Optional[Run]:
    """The run the shortcuts log to: the last started and not ended."""
    return _expman.active_run()


def _active() -> Run:
    run = _expman.active_run()
    if run is None:
        raise ExpmanError("no active run: start one with expman.start_experiment()")
    return run


def log_metric(name: str, value: float, step: Optional[int] = None, timestamp: Optional[float] = None,
               epoch: Optional[int] = None) -> None:
    """``Run.log_metric`` on the active run."""
    _active().log_metric(name, value, step, timestamp, epoch)


def log_metrics(metrics: Mapping[str, float], step: Optional[int] = None, timestamp: Optional[float] = None,
                epoch: Optional[int] = None) -> None:
    """``Run.log_metrics`` on the active run."""
    _active().log_metrics(dict(metrics), step, timestamp, epoch)


def log_parameter(name: str, value: Any) -> None:
    """``Run.log_parameter`` on the active run."""
    _active().log_parameter(name, value)


def log_parameters(params: Mapping[str, Any]) -> None:
    """``Run.log_parameters`` on the active run."""
    _active().log_parameters(dict(params))


log_param = log_parameter
log_params = log_parameters


def set_tag(key: str, value: Any) -> None:
    """``Run.set_tag`` on the active run."""
    _active().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """``Run.set_tags`` on the active run."""
    _active().set_tags(dict(tags))


def log_artifact(path: PathLike, kind: str = "file") -> list:
    """``Run.log_artifact`` on the active run."""
    return _active().log_artifact(os.fspath(path), kind)


def log_artifacts(path: PathLike, kind: str = "file") -> list:
    """``Run.log_artifacts`` on the active run."""
    return _active().log_artifacts(os.fspath(path), kind)


def end(status: str = "SUCCESS", error: Optional[str] = None) -> None:
    """Ends the active run (``SUCCESS``/``FINISHED``, ``FAILED``, ``KILLED``)."""
    _active().end(status, error)


# ----------------------------------------------------------------------------
# Runs still active when the interpreter ends: SUCCESS, or FAILED with the
# exception that is ending it.

_exit_error: Optional[str] = None
_previous_hook = sys.excepthook


def _excepthook(kind, value, traceback):  # type: ignore[no-untyped-def]
    global _exit_error
    message = str(value)
    if issubclass(kind, KeyboardInterrupt):
        _exit_error = "KILLED:interrupted (KeyboardInterrupt)"
    else:
        _exit_error = "FAILED:" + (f"{kind.__name__}: {message}" if message else kind.__name__)
    _previous_hook(kind, value, traceback)


def _end_active_runs() -> None:
    status, error = "SUCCESS", None
    if _exit_error is not None:
        status, error = _exit_error.split(":", 1)
    while True:
        run = _expman.active_run()
        if run is None:
            return
        try:
            run.end(status, error)
        except Exception as e:  # noqa: BLE001 - a run that cannot end must not hide the others
            print(f"expman: run {run.id}: {e}", file=sys.stderr)
            return


sys.excepthook = _excepthook
atexit.register(_end_active_runs)


# ----------------------------------------------------------------------------
# Queries: polars DataFrames through the Arrow C stream interface.


def _frame(table: Any) -> Any:
    import polars as pl

    return pl.DataFrame(table)


def _targets(runs_or_trials: Any) -> list:
    if isinstance(runs_or_trials, str):
        return [runs_or_trials]
    columns = getattr(runs_or_trials, "columns", None)
    if columns is not None and "id" in list(columns):
        return [str(i) for i in runs_or_trials["id"]]
    return [str(t) for t in runs_or_trials]


def runs(
    filter: Optional[str] = None,
    workspace: Optional[PathLike] = None,
    experiment: Optional[str] = None,
    order_by: Optional[Union[str, Iterable[str]]] = None,
    limit: Optional[int] = None,
    columns: Optional[Iterable[str]] = None,
    all_experiments: bool = False,
) -> Any:
    """One row per run, as ``expman runs`` (the filter language of
    ``expman runs --help``: ``metrics.val_loss < 0.2 and params.lr = 0.01``).
    ``columns`` keeps some (``params.*`` matches a prefix)."""
    if isinstance(order_by, str):
        order_by = [order_by]
    return _frame(
        _expman.runs(
            filter,
            workspace=os.fspath(workspace) if workspace is not None else None,
            experiment=experiment,
            order_by=list(order_by) if order_by else None,
            limit=limit,
            columns=list(columns) if columns else None,
            all_experiments=all_experiments,
        )
    )


def metrics(
    runs_or_trials: Any,
    keys: Optional[Iterable[str]] = None,
    workspace: Optional[PathLike] = None,
    experiment: Optional[str] = None,
    all_experiments: bool = False,
) -> Any:
    """Every metric point of the given runs (ids, a runs DataFrame) or trials
    (names), as ``expman metrics``."""
    return _frame(
        _expman.metrics(
            _targets(runs_or_trials),
            keys=list(keys) if keys else None,
            workspace=os.fspath(workspace) if workspace is not None else None,
            experiment=experiment,
            all_experiments=all_experiments,
        )
    )


def sql(query: str, workspace: Optional[PathLike] = None, experiment: Optional[str] = None,
        all_experiments: bool = False) -> Any:
    """SQL over the record's tables (``runs``, ``metrics``, ``params``, ...),
    as ``expman sql``."""
    return _frame(
        _expman.sql(
            query,
            workspace=os.fspath(workspace) if workspace is not None else None,
            experiment=experiment,
            all_experiments=all_experiments,
        )
    )


def summary(metric: str, at: str = "final", mode: Optional[str] = None, all_runs: bool = False,
            workspace: Optional[PathLike] = None, experiment: Optional[str] = None,
            all_experiments: bool = False) -> Any:
    """Mean ± std (and a 95% interval) of a metric per trial, as
    ``expman summary``; ``at`` is ``final``, ``best`` or a step."""
    return _frame(
        _expman.summary(
            metric,
            at=at,
            mode=mode,
            all_runs=all_runs,
            workspace=os.fspath(workspace) if workspace is not None else None,
            experiment=experiment,
            all_experiments=all_experiments,
        )
    )


def compare(a: str, b: str, metric: str, at: str = "final", mode: Optional[str] = None, all_runs: bool = False,
            workspace: Optional[PathLike] = None, experiment: Optional[str] = None,
            all_experiments: bool = False) -> Any:
    """Welch's t-test of trial ``a`` against trial ``b`` on ``metric``, as
    ``expman compare``: one row with both means, the difference and its
    interval, t, df, p and the verdict."""
    return _frame(
        _expman.compare(
            a,
            b,
            metric,
            at=at,
            mode=mode,
            all_runs=all_runs,
            workspace=os.fspath(workspace) if workspace is not None else None,
            experiment=experiment,
            all_experiments=all_experiments,
        )
    )


# ----------------------------------------------------------------------------
# Artifacts and lineage: the same lookups and checks as `expman artifacts`.


def artifacts(run: str, workspace: Optional[PathLike] = None) -> list:
    """A run's artifacts, as ``expman artifacts list``: one dict per artifact
    with ``path``, ``kind``, ``size``, ``sha256``, ``epoch`` and ``where``
    (``stored``, ``stored, encrypted``, ``run directory``, ``deleted``,
    ``missing``). ``polars.DataFrame(expman.artifacts(run))`` makes a table."""
    import json

    text = _expman.artifacts_json(run, workspace=os.fspath(workspace) if workspace is not None else None)
    return json.loads(text)["artifacts"]


def get_artifact(run: str, path: Optional[str] = None, out: Optional[PathLike] = None, force: bool = False,
                 workspace: Optional[PathLike] = None) -> Path:
    """Writes a run's artifact to ``out`` (default: its file name here),
    checked against its SHA-256, and returns where; fetched from the
    workspace's remote store when it is not here. ``run`` may be
    ``alias:NAME`` (then no ``path``). Encrypted stores need
    ``EXPMAN_ARTIFACT_KEY``."""
    return Path(
        _expman.get_artifact(
            run,
            path,
            out=os.fspath(out) if out is not None else None,
            force=force,
            workspace=os.fspath(workspace) if workspace is not None else None,
        )
    )


def lineage(run: str, depth: int = 10, workspace: Optional[PathLike] = None) -> dict:
    """What a run used and which runs used its outputs, as ``expman lineage
    --format json``: ``runs``, ``edges`` (``from`` run, ``to`` run, the
    ``input`` name) and ``files`` (inputs no run made)."""
    import json

    return json.loads(
        _expman.lineage_json(run, depth=depth, workspace=os.fspath(workspace) if workspace is not None else None)
    )


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext expman``: the ``%expman`` magics in this IPython."""
    from .ipython import load

    load(ipython)
