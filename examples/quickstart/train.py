"""Logistic regression by mini-batch SGD on synthetic data, in plain Python.

Reads its settings from the config expman resolved for this run, reports
train/validation loss and accuracy per epoch through `expman_client`, and
saves the learned weights as an artifact. Runs on its own too
(`python3 train.py`), with the defaults below.
"""

import json
import math
import os
import random

import expman_client as em

DEFAULTS = {
    "seed": 0,
    "data": {"n_train": 400, "n_val": 200, "n_features": 8, "noise": 0.8, "seed": 7},
    "model": {"features": 8, "l2": 0.001},
    "training": {"epochs": 40, "lr": 0.05, "batch_size": 32},
}


def make_data(n, n_features, noise, rng, true_w):
    """Points whose label depends on a hidden linear rule, with label noise."""
    xs, ys = [], []
    for _ in range(n):
        x = [rng.gauss(0.0, 1.0) for _ in range(n_features)]
        logit = sum(w * xi for w, xi in zip(true_w, x)) + rng.gauss(0.0, noise)
        xs.append(x)
        ys.append(1.0 if logit > 0 else 0.0)
    return xs, ys


def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def evaluate(w, b, xs, ys, l2):
    loss, correct = 0.0, 0
    for x, y in zip(xs, ys):
        p = sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b)
        p = min(max(p, 1e-12), 1 - 1e-12)
        loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
        correct += (p >= 0.5) == (y == 1.0)
    loss = loss / len(xs) + 0.5 * l2 * sum(wi * wi for wi in w)
    return loss, correct / len(xs)


def main():
    cfg = em.config() or DEFAULTS
    data, model, training = cfg["data"], cfg["model"], cfg["training"]

    # The data is the same for every run (its own seed); the run's seed
    # (different per repeat) drives initialisation and shuffling.
    data_rng = random.Random(data["seed"])
    true_w = [data_rng.gauss(0.0, 1.0) for _ in range(data["n_features"])]
    train_x, train_y = make_data(data["n_train"], data["n_features"], data["noise"], data_rng, true_w)
    val_x, val_y = make_data(data["n_val"], data["n_features"], data["noise"], data_rng, true_w)
    # A smaller model sees only the first `model.features` inputs.
    used = min(model.get("features", data["n_features"]), data["n_features"])
    train_x = [x[:used] for x in train_x]
    val_x = [x[:used] for x in val_x]

    rng = random.Random(cfg.get("seed", em.seed()))
    w = [rng.gauss(0.0, 0.1) for _ in range(used)]
    b = 0.0
    lr, l2, batch_size = training["lr"], model["l2"], training["batch_size"]
    em.log_params({"n_train": data["n_train"], "true_weight_norm": math.sqrt(sum(t * t for t in true_w))})

    order = list(range(len(train_x)))
    for epoch in range(training["epochs"]):
        with em.epoch(epoch):
            rng.shuffle(order)
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                grad_w = [0.0] * len(w)
                grad_b = 0.0
                for i in batch:
                    x, y = train_x[i], train_y[i]
                    err = sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b) - y
                    for j, xj in enumerate(x):
                        grad_w[j] += err * xj
                    grad_b += err
                w = [wi - lr * (g / len(batch) + l2 * wi) for wi, g in zip(w, grad_w)]
                b -= lr * grad_b / len(batch)
            train_loss, train_acc = evaluate(w, b, train_x, train_y, l2)
            val_loss, val_acc = evaluate(w, b, val_x, val_y, l2)
            em.log_metrics(
                {"train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc},
                step=epoch,
            )
            if em.checkpoint_due(epoch):
                # expman keeps the checkpoints its policy asks for and deletes the rest.
                path = os.path.join(em.run_dir(), f"checkpoint-{epoch:03d}.json")
                with open(path, "w") as f:
                    json.dump({"epoch": epoch, "w": w, "b": b}, f)
                em.log_checkpoint(path, epoch)
        if em.should_stop():  # early stopping (or Ctrl-C) asked this run to stop
            break

    with open(os.path.join(em.run_dir(), "weights.json"), "w") as f:
        json.dump({"w": w, "b": b}, f)
    em.log_artifact("weights.json", kind="model")
    print(f"final val_loss={val_loss:.4f} val_acc={val_acc:.3f}")


if __name__ == "__main__":
    main()
