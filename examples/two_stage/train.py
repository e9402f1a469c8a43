"""Stage 2: logistic regression on stage 1's `clean.csv` (the input named
`data`, found at EXPMAN_INPUT_DATA). Reports the loss per epoch and saves
the weights as an artifact."""

import csv
import json
import math
import os
import random

import expman_client as em

cfg = em.config() or {}
training = cfg.get("training", {"epochs": 20, "lr": 0.1})
with open(os.environ["EXPMAN_INPUT_DATA"], newline="") as f:
    rows = list(csv.DictReader(f))
features = [k for k in rows[0] if k != "label"]
xs = [[float(r[k]) for k in features] for r in rows]
ys = [int(r["label"]) for r in rows]
rng = random.Random(em.seed(0))
w = [0.0] * len(features)
b = 0.0


def loss_and_accuracy():
    total, right = 0.0, 0
    for x, y in zip(xs, ys):
        p = 1 / (1 + math.exp(-(sum(wi * xi for wi, xi in zip(w, x)) + b)))
        total -= math.log(max(p if y else 1 - p, 1e-12))
        right += (p > 0.5) == bool(y)
    return total / len(xs), right / len(xs)


order = list(range(len(xs)))
for epoch in range(int(training["epochs"])):
    em.epoch(epoch)
    rng.shuffle(order)
    for i in order:
        p = 1 / (1 + math.exp(-(sum(wi * xi for wi, xi in zip(w, xs[i])) + b)))
        g = p - ys[i]
        w = [wi - training["lr"] * g * xi for wi, xi in zip(w, xs[i])]
        b -= training["lr"] * g
    loss, acc = loss_and_accuracy()
    em.log_metrics({"loss": loss, "accuracy": acc}, step=epoch, epoch=epoch)

model = os.path.join(em.run_dir() or ".", "model.json")
with open(model, "w") as f:
    json.dump({"features": features, "w": w, "b": b}, f)
em.log_artifact(model, kind="model")
