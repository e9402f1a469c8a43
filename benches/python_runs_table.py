"""expman's side of the runs-table benchmark (benches/python_vs_mlflow.sh):
`expman.runs()` of a generated workspace into a polars DataFrame, median of
5, beside `mlflow.search_runs` of the same runs (benches/mlflow_query.py).

    python benches/python_runs_table.py WORKSPACE
"""
import statistics
import sys
import time

import expman

workspace = sys.argv[1]
times, frame = [], None
for _ in range(5):
    started = time.perf_counter()
    frame = expman.runs(workspace=workspace)
    times.append((time.perf_counter() - started) * 1000)
print(f"expman {expman.__version__}: expman.runs() of all {frame.height:,} runs -> polars ({frame.width} columns): {statistics.median(times):.0f} ms")
