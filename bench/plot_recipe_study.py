#!/usr/bin/env python3
"""The recipe study's picture: FD (N = 1000) against training CPU time, one line per recipe.

    python3 bench/plot_recipe_study.py OUT/results.csv docs/recipes.png

Reads the CSV that `bench/recipe_study.sh score` writes (recipe, step, cpu_seconds, sampler,
sampler_steps, fd, agreement_percent) and draws, for every recipe and sampler, FD against CPU
hours of training. Needs matplotlib (pip install matplotlib); mindiff itself does not.
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(results, picture):
    lines = defaultdict(list)
    with open(results) as f:
        for row in csv.DictReader(f):
            if not row["fd"]:
                continue
            key = row["recipe"] + ("" if row["sampler"] == "edm-heun" else f" ({row['sampler']} {row['sampler_steps']})")
            lines[key].append((float(row["cpu_seconds"]) / 3600.0, float(row["fd"])))
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for key in sorted(lines):
        points = sorted(lines[key])
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=key)
    ax.set_xlabel("training compute (CPU hours of the training process)")
    ax.set_ylabel("FD, N = 1000 (lower is better)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title("Fashion-MNIST, same network, same sampler budget (35 evaluations)")
    fig.tight_layout()
    fig.savefig(picture)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
