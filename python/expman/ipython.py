"""The ``%expman`` magics in IPython's own kernel (``%load_ext expman``).

They are the expman kernel's magics, run by the same Rust code: a cell is
parsed by the CLI's own argument parser and answered by the same functions,
so the two front ends never disagree. What differs is only how outputs are
shown: through IPython's display system here (the live run table of
``%%expman run`` is one display updated in place), and a query magic's
table is the magic's value (``runs = %expman runs``) as a polars DataFrame.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, Optional

from . import _expman


def _show(kind: str, name_or_id: Optional[str], payload: str) -> None:
    from IPython.display import display, update_display

    if kind == "stream":
        stream = sys.stderr if name_or_id == "stderr" else sys.stdout
        stream.write(payload)
        stream.flush()
        return
    bundle = json.loads(payload)
    data, metadata = bundle["data"], bundle.get("metadata") or {}
    if kind == "display":
        display(data, raw=True, metadata=metadata, display_id=name_or_id)
    elif kind == "update":
        update_display(data, raw=True, metadata=metadata, display_id=name_or_id)
    elif kind == "result":
        display(data, raw=True, metadata=metadata)


def _pump_later(outputs: Any) -> None:
    """Shows what a cell's background runs send after it returned."""

    def pump() -> None:
        while True:
            got = outputs.next(0.5)
            if got is None:
                continue
            kind, name_or_id, payload = got
            if kind == "closed":
                return
            try:
                _show(kind, name_or_id, payload)
            except Exception:  # noqa: BLE001 - a display that failed must not end the pump
                pass

    threading.Thread(target=pump, name="expman-outputs", daemon=True).start()


class _Bridge:
    """One IPython session's magics."""

    def __init__(self) -> None:
        self.magics = _expman.Magics()

    def run(self, code: str) -> Any:
        from IPython.core.error import UsageError

        try:
            tables, later = self.magics.execute(code, _show)
        except _expman.ExpmanError as e:
            raise UsageError(str(e)) from None
        _pump_later(later)
        if not tables:
            return None
        import polars as pl

        frames = [pl.DataFrame(t) for t in tables]
        return frames[0] if len(frames) == 1 else frames


def load(ipython: Any) -> None:
    from IPython.core.magic import Magics, line_cell_magic, magics_class

    bridge = _Bridge()

    @magics_class
    class ExpmanMagics(Magics):
        @line_cell_magic
        def expman(self, line: str, cell: Optional[str] = None) -> Any:
            """expman's magics: ``%expman help`` lists them."""
            if cell is None:
                return bridge.run(f"%expman {line}")
            return bridge.run(f"%%expman {line}\n{cell}")

    ipython.register_magics(ExpmanMagics)
