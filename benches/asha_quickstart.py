#!/usr/bin/env python3
"""ASHA on the quickstart, for BENCHMARKS.md ("Search").

For each seed, two searches over the quickstart's `tune` space run with
`expman run`, one after the other, in a copy of examples/quickstart: a full
random search (no pruning) and the same random search with ASHA (random
suggestions depend only on the seed and their number, so both try the same
settings in the same order). From the record it prints, per seed and as
medians: the epochs each search trained in all, the epochs the full search
needed before a run came within 1% of its best final val_loss, and the
epochs ASHA needed to get a run within 1% of that same best.

Epochs trained are the epochs a run logged val_loss in (early stopping
stays on, as in the quickstart). Each epoch is made slower than the
quickstart's (data.n_train=2000) so that a stop request lands within an
epoch or two, as it would for real training.

    python3 benches/asha_quickstart.py [--seeds 5] [--budget 24] [--expman target/release/expman]
"""

import argparse
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SPACE = """    space:
      training.lr: {loguniform: [0.001, 1.0]}
      model.l2: {loguniform: [1.0e-5, 0.1]}
      training.batch_size: {choice: [16, 32, 64]}
"""


def trials_yaml(seed: int, budget: int) -> str:
    common = f"    method: random\n    metric: val_loss\n    trials: {budget}\n    parallel: 2\n    seed: {seed}\n"
    return (
        f"- name: full\n  search:\n{common}{SPACE}"
        f"- name: asha\n  search:\n{common}{SPACE}"
        "    prune: {method: asha, min: 1, max: 40, reduction: 3}\n"
    )


def search_runs(db: Path, trial: str):
    """(number, status, epochs trained, final val_loss) of the latest search of `trial`."""
    con = sqlite3.connect(db)
    (search_id,) = con.execute("SELECT max(id) FROM searches WHERE trial = ?", (trial,)).fetchone()
    rows = con.execute(
        """SELECT p.number, r.status,
                  (SELECT COUNT(DISTINCT m.epoch) FROM metrics m WHERE m.run_id = r.id AND m.key = 'val_loss'),
                  (SELECT s.last_value FROM metric_summaries s WHERE s.run_id = r.id AND s.key = 'val_loss')
           FROM search_points p JOIN runs r ON r.id = p.run_id WHERE p.search_id = ? ORDER BY p.number""",
        (search_id,),
    ).fetchall()
    con.close()
    return rows


def epochs_to(rows, target):
    """Epochs trained (in suggestion order) until a complete run is within `target`."""
    spent = 0
    for _, status, epochs, value in rows:
        spent += epochs
        if status in ("SUCCESS", "EARLY_STOPPED") and value is not None and value <= target:
            return spent
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=24)
    parser.add_argument("--expman", default=str(REPO / "target" / "release" / "expman"))
    args = parser.parse_args()
    results = []
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory(prefix="expman-asha-") as tmp:
            work = Path(tmp) / "quickstart"
            shutil.copytree(REPO / "examples" / "quickstart", work, ignore=shutil.ignore_patterns("outputs", "with_trackers"))
            (work / "trials.yaml").write_text(trials_yaml(seed, args.budget))
            for trial in ("full", "asha"):
                done = subprocess.run(
                    [args.expman, "run", ".", "--trial", trial, "data.n_train=2000"],
                    cwd=work,
                    capture_output=True,
                    text=True,
                )
                if done.returncode not in (0, 1):
                    print(done.stdout, done.stderr, file=sys.stderr)
                    return 1
            db = work / "outputs" / "expman.db"
            full, asha = search_runs(db, "full"), search_runs(db, "asha")
        best = min(v for _, s, _, v in full if v is not None and s in ("SUCCESS", "EARLY_STOPPED"))
        target = best * 1.01
        row = {
            "seed": seed,
            "best": best,
            "full_total": sum(e for _, _, e, _ in full),
            "full_to_target": epochs_to(full, target),
            "asha_total": sum(e for _, _, e, _ in asha),
            "asha_to_target": epochs_to(asha, target),
            "pruned": sum(1 for _, s, _, _ in asha if s == "PRUNED"),
        }
        results.append(row)
        print(
            f"seed {seed}: best val_loss {best:.4f}; full search {row['full_total']} epochs "
            f"(within 1% after {row['full_to_target']}); ASHA {row['asha_total']} epochs, "
            f"{row['pruned']} of {len(asha)} pruned, within 1% after {row['asha_to_target']}",
            flush=True,
        )
    reached = [r for r in results if r["asha_to_target"] is not None]
    print(f"\nseeds where ASHA reached within 1% of the full search's best: {len(reached)} of {len(results)}")
    med = lambda key, rs=results: statistics.median(r[key] for r in rs if r[key] is not None)  # noqa: E731
    print(f"median epochs, full random search: {med('full_total')} in all, {med('full_to_target')} to within 1%")
    print(f"median epochs, random + ASHA:      {med('asha_total')} in all, {med('asha_to_target', reached) if reached else '-'} to within 1%")
    if reached:
        ratios = [r["asha_to_target"] / r["full_total"] for r in reached]
        print(f"ASHA's epochs to within 1% / the full search's epochs: median {statistics.median(ratios):.3f} (target <= 1/3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
