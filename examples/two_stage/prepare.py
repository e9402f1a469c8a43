"""Stage 1: standardise the raw table (each feature to mean 0, std 1) and
drop rows with missing values. Writes `clean.csv` in the run's directory
and records it as an artifact, which stage 2 names as its input."""

import csv
import json
import math
import os

import expman_client as em

raw = os.environ.get("EXPMAN_INPUT_RAW", os.path.join(os.path.dirname(__file__), "data", "raw.csv"))
with open(raw, newline="") as f:
    rows = [r for r in csv.DictReader(f) if all(v.strip() for v in r.values())]
features = [k for k in rows[0] if k != "label"]
stats = {}
for k in features:
    values = [float(r[k]) for r in rows]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
    stats[k] = {"mean": mean, "std": std}

out_dir = em.run_dir() or "."
clean = os.path.join(out_dir, "clean.csv")
with open(clean, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(features + ["label"])
    for r in rows:
        w.writerow([f"{(float(r[k]) - stats[k]['mean']) / stats[k]['std']:.6f}" for k in features] + [r["label"]])
with open(os.path.join(out_dir, "scaler.json"), "w") as f:
    json.dump(stats, f, indent=1, sort_keys=True)

em.log_params({"rows": len(rows), "features": len(features)})
em.log_artifact(clean, kind="dataset")
em.log_artifact(os.path.join(out_dir, "scaler.json"), kind="model")
print(f"wrote {clean}: {len(rows)} rows, {len(features)} features")
