"""Optuna's side of benches/search_vs_optuna.sh: the same objectives and
spaces as core/search/benches/search.rs, run with Optuna's TPE (its
defaults, and multivariate) and random samplers, for SEEDS seeds and a
budget of trials each; then the time of one suggestion (`study.ask()`)
with 1,000 and 10,000 finished trials. Writes JSON to the path given.

    python benches/search_optuna.py OUT.json [--seeds 20] [--budget 200] [--timing-only]
"""

import argparse
import json
import math
import random
import sys
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)

HARTMANN_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HARTMANN_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]
HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]


def branin(x):
    a, b = x["x"], x["y"]
    return (b - 5.1 / (4 * math.pi**2) * a * a + 5 / math.pi * a - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(a) + 10


def hartmann6(x):
    xs = [x[f"x{i}"] for i in range(6)]
    return -sum(
        HARTMANN_ALPHA[i] * math.exp(-sum(HARTMANN_A[i][j] * (xs[j] - HARTMANN_P[i][j]) ** 2 for j in range(6)))
        for i in range(4)
    )


def rosenbrock_log(x):
    z = [math.log10(x[f"x{i}"]) for i in range(10)]
    return sum(100 * (z[i + 1] - z[i] ** 2) ** 2 + (1 - z[i]) ** 2 for i in range(9))


def space(name):
    if name == "branin":
        return {"x": optuna.distributions.FloatDistribution(-5, 10), "y": optuna.distributions.FloatDistribution(0, 15)}
    if name in ("hartmann6", "noisy_hartmann6"):
        return {f"x{i}": optuna.distributions.FloatDistribution(0, 1) for i in range(6)}
    return {f"x{i}": optuna.distributions.FloatDistribution(1e-2, 1e2, log=True) for i in range(10)}


def objective_of(name, seed):
    if name == "branin":
        return branin
    if name == "hartmann6":
        return hartmann6
    if name == "rosenbrock10_log":
        return rosenbrock_log
    noise = random.Random(seed * 7919 + 1)
    return lambda x: hartmann6(x) + noise.gauss(0.0, 0.1)


SAMPLERS = {
    "optuna-tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "optuna-tpe-mv": lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True),
    "optuna-random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}


def run(name, sampler, seed, budget):
    study = optuna.create_study(sampler=SAMPLERS[sampler](seed))
    f = objective_of(name, seed)
    dists = space(name)
    best, curve = math.inf, []
    for _ in range(budget):
        trial = study.ask(dists)
        value = f(trial.params)
        study.tell(trial, value)
        best = min(best, value)
        curve.append(best)
    return curve


def suggestion_time(finished, repeats):
    """Seconds per `ask()` of TPE with `finished` trials (Hartmann-6)."""
    dists = space("hartmann6")
    rng = random.Random(0)
    trials = []
    for _ in range(finished):
        params = {k: rng.uniform(0, 1) for k in dists}
        trials.append(optuna.trial.create_trial(params=params, distributions=dists, value=hartmann6(params)))
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    study.add_trials(trials)
    start = time.perf_counter()
    for _ in range(repeats):
        study.ask(dists)
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--timing-only", action="store_true", help="only the time per suggestion")
    args = parser.parse_args()
    out = {"optuna": optuna.__version__, "curves": {}, "suggest_seconds": {}}
    objectives = [] if args.timing_only else ["branin", "hartmann6", "rosenbrock10_log", "noisy_hartmann6"]
    for name in objectives:
        for sampler in SAMPLERS:
            start = time.perf_counter()
            out["curves"][f"{name}/{sampler}"] = [run(name, sampler, s, args.budget) for s in range(args.seeds)]
            print(f"optuna: {name} {sampler}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    for finished, repeats in [(1000, 5), (10000, 2)]:
        out["suggest_seconds"][str(finished)] = suggestion_time(finished, repeats)
        print(f"optuna: TPE ask() with {finished} trials: {out['suggest_seconds'][str(finished)] * 1e3:.1f} ms", file=sys.stderr, flush=True)
    with open(args.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
