"""Momentum in a ravine: why a velocity helps where plain gradient descent zig-zags.

The figure runs ``torch.optim`` itself (no optimiser is re-implemented here) on an
ill-conditioned quadratic and shows two things side by side: the paths of plain gradient
descent, momentum and Adam on the contours, and, for the momentum run, the gradient and the
momentum buffer coordinate by coordinate. Along the flat direction the gradient keeps its
sign and the buffer grows towards ``1 / (1 - momentum)`` times the gradient, while across the
steep direction plain gradient descent flips sign every step and momentum's swing dies out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

RAVINE_CURVATURES = (1.0, 25.0)  # f(x) = (c1 x1^2 + c2 x2^2) / 2: condition number 25


def ravine(p: torch.Tensor, curvatures: Sequence[float] = RAVINE_CURVATURES) -> torch.Tensor:
    """The quadratic ravine ``(c1 x1² + c2 x2²) / 2`` of points ``p`` of shape ``(..., 2)``."""
    c1, c2 = curvatures
    return 0.5 * (c1 * p[..., 0] ** 2 + c2 * p[..., 1] ** 2)


def optimiser_path(
    make_optimiser: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    start: Sequence[float],
    steps: int,
    f: Callable[[torch.Tensor], torch.Tensor] = ravine,
) -> dict[str, np.ndarray]:
    """Minimise ``f`` from ``start`` with the optimiser ``make_optimiser([p])`` builds.

    Returns the path ``(steps + 1, 2)``, the gradient at each step ``(steps, 2)`` and, when the
    optimiser keeps one (SGD with momentum), its momentum buffer after each step ``(steps, 2)``
    (zeros otherwise), all as float64 arrays.
    """
    p = torch.tensor(list(start), dtype=torch.float64, requires_grad=True)
    optimiser = make_optimiser([p])
    path, grads, buffers = [p.detach().clone()], [], []
    for _ in range(steps):
        optimiser.zero_grad()
        f(p).backward()
        grads.append(p.grad.detach().clone())
        optimiser.step()
        buffer = optimiser.state[p].get("momentum_buffer")
        buffers.append(torch.zeros(2, dtype=torch.float64) if buffer is None else buffer.detach().clone())
        path.append(p.detach().clone())
    return {"path": torch.stack(path).numpy(), "grads": torch.stack(grads).numpy(),
            "buffers": torch.stack(buffers).numpy()}


def ravine_runs(steps: int = 40, start: Sequence[float] = (-4.5, 1.2)) -> dict[str, dict[str, np.ndarray]]:
    """The three runs of the figure: gradient descent near its stability limit, momentum, Adam."""
    return {
        "gradient descent, lr=0.07": optimiser_path(lambda ps: torch.optim.SGD(ps, lr=0.07), start, steps),
        "momentum 0.5, lr=0.05": optimiser_path(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.5), start, steps),
        "Adam, lr=0.3": optimiser_path(lambda ps: torch.optim.Adam(ps, lr=0.3), start, steps),
    }


def draw_momentum_ravine(steps: int = 40) -> Figure:
    """Draw the three runs on the ravine's contours, and the momentum run's gradient and buffer.

    Left: contours of ``ravine`` with the paths of gradient descent (lr just below its limit
    ``2 / 25``, so it zig-zags across the steep direction), SGD with momentum 0.5 and Adam.
    Middle: for the momentum run, the gradient ``g1`` and the buffer ``b1 ← μ b1 + g1`` along the
    flat coordinate (the gradients agree, so the buffer adds up to several gradients' worth).
    Right: the steep coordinate ``x2`` of each run against the step (gradient descent flips its
    sign every step and shrinks slowly; momentum's swing dies out within a few steps). Built on
    :class:`matplotlib.figure.Figure` (no pyplot state), so a notebook shows it as a cell's value.
    """
    runs = ravine_runs(steps)
    fig = Figure(figsize=(15, 4.6))
    ax_paths, ax_flat, ax_steep = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.4, 1, 1]})

    xs, ys = np.linspace(-5, 5, 300), np.linspace(-1.6, 1.6, 200)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys, indexing="xy"), axis=-1))
    ax_paths.contour(xs, ys, ravine(grid).numpy(), levels=np.geomspace(0.05, 60, 18), cmap="viridis",
                     linewidths=0.7)
    for (name, run), colour in zip(runs.items(), ("tab:red", "tab:blue", "tab:green")):
        path = run["path"]
        ax_paths.plot(path[:, 0], path[:, 1], ".-", color=colour, markersize=3, linewidth=1, label=name)
    start = next(iter(runs.values()))["path"][0]
    ax_paths.plot(*start, "ks", markersize=6, label="start")
    ax_paths.plot(0, 0, "k*", markersize=12, label="minimum")
    ax_paths.set(xlim=(-5, 5), ylim=(-1.6, 1.6), xlabel="$x_1$ (flat direction)", ylabel="$x_2$ (steep direction)",
                 title=f"$f = (x_1^2 + 25 x_2^2)/2$: {steps} steps each")
    ax_paths.legend(fontsize=8, loc="lower right")

    momentum = runs["momentum 0.5, lr=0.05"]
    t = np.arange(1, steps + 1)
    ax_flat.plot(t, momentum["grads"][:, 0], "o-", color="tab:orange", markersize=3, linewidth=1, label="gradient $g_1$")
    ax_flat.plot(t, momentum["buffers"][:, 0], "s-", color="tab:blue", markersize=3, linewidth=1,
                 label="buffer $b_1 \\leftarrow \\mu b_1 + g_1$")
    ax_flat.set(xlabel="step", ylabel="gradient and buffer along $x_1$",
                title="Flat $x_1$ (momentum run): gradients agree,\nthe buffer adds them up")
    for (name, run), colour in zip(runs.items(), ("tab:red", "tab:blue", "tab:green")):
        ax_steep.plot(np.arange(steps + 1), run["path"][:, 1], ".-", color=colour, markersize=3, linewidth=1, label=name)
    ax_steep.set(xlabel="step", ylabel="$x_2$",
                 title="Steep $x_2$: gradient descent flips sign every step;\nmomentum's swing dies out")
    for ax in (ax_flat, ax_steep):
        ax.axhline(0, color="grey", linewidth=0.6)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("Momentum in a ravine: the step is $-\\mathrm{lr}\\cdot b$, a running sum of gradients")
    fig.tight_layout()
    return fig
