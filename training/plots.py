"""Confusion-matrix figures for MLflow."""

from __future__ import annotations

import numpy as np


def confusion_figure(head: str, labels: list[str], matrix: list[list[int]]):
    import matplotlib

    matplotlib.use("Agg")  # no screen on servers and CI
    import matplotlib.pyplot as plt

    values = np.asarray(matrix)
    size = 2.0 + 0.55 * len(labels)
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    image = axes.imshow(values, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"{head}: confusion on the test split")
    for (row, column), value in np.ndenumerate(values):
        if value:
            colour = "white" if value > values.max() / 2 else "black"
            axes.text(column, row, str(value), ha="center", va="center", fontsize=7, color=colour)
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    return figure
