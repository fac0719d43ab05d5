"""Reverse-mode automatic differentiation as a picture: the computation graph of a scalar expression.

:func:`draw_computation_graph` draws the graph recorded by a tiny autograd engine such as Lab 02's
``Value`` class: one box per node (its operation, value and gradient), one arrow per use of a value
(from the input to the result it helped compute, labelled with the local derivative), nodes laid out
in layers from the inputs on the left to the output on the right. Drawn after ``backward()``, it shows
the chain rule at work: each node's gradient is the sum, over its outgoing arrows, of the arrow's local
derivative times the gradient at the arrow's head.

The engine's nodes are read by duck typing, so any class with these attributes works:

``data``
    the node's value (a number);
``grad``
    its gradient, d(root)/d(node), after ``root.backward()`` (a number; 0 before);
``parents``
    the nodes it was computed from, as ``(input_node, local_derivative)`` pairs (Lab 02's layout);
    bare nodes, without a local derivative, are accepted too;
``op`` (optional)
    a short name of the operation that made it (``"+"``, ``"*"``, ``"sin"``, ...); without it the
    box shows no operation.

Nodes are told apart by identity (``id``), never hashed or compared, so a class that defines
``__eq__`` works as well. :func:`graph_nodes` and :func:`graph_layers` are the two steps of the
layout, usable on their own.

:func:`draw_forward_vs_reverse` puts the two modes side by side on one small expression: forward
mode (what dual numbers compute: tangents pushed along the arrows, one pass per input) and reverse
mode (adjoints pulled back against the arrows, every input's derivative in one pass), with the
numeric steps as :func:`forward_tangents` and :func:`reverse_adjoints`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

MAX_NODES = 60
_LEAF, _INNER, _ROOT = "#cfe2f3", "#fff2cc", "#d9ead3"
_GRAD = "#c0392b"


def _inputs(node: Any) -> list[tuple[Any, float | None]]:
    """``(input node, local derivative or None)`` for each entry of ``node.parents``."""
    out = []
    for entry in getattr(node, "parents", ()) or ():
        if isinstance(entry, tuple) and len(entry) == 2 and hasattr(entry[0], "data"):
            out.append((entry[0], entry[1]))
        else:
            out.append((entry, None))
    return out


def graph_nodes(root: Any) -> list[Any]:
    """Every node ``root`` depends on, itself included, each once, every node after its inputs.

    A depth-first search without recursion (deep chains are fine); nodes are told apart by ``id``.
    """
    order: list[Any] = []
    done: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            if id(node) not in done:
                done.add(id(node))
                order.append(node)
            continue
        if id(node) in done:
            continue
        stack.append((node, True))
        for parent, _ in reversed(_inputs(node)):
            if id(parent) not in done:
                stack.append((parent, False))
    return order


def graph_layers(root: Any) -> dict[int, int]:
    """``id(node) -> layer``: 0 for a node with no inputs, else one more than its deepest input.

    Every arrow (input -> result) therefore points from a lower layer to a higher one, and the
    root sits in the last layer.
    """
    layers: dict[int, int] = {}
    for node in graph_nodes(root):
        inputs = _inputs(node)
        layers[id(node)] = 1 + max(layers[id(p)] for p, _ in inputs) if inputs else 0
    return layers


def _number(value: Any) -> str:
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return "?"


def _layout(root: Any) -> tuple[list[Any], dict[int, int], dict[int, float], int, int]:
    """Nodes, layer and row of each node (by id), the number of layers - 1 and the tallest column."""
    nodes = graph_nodes(root)
    if len(nodes) > MAX_NODES:
        raise ValueError(f"the graph has {len(nodes)} nodes; a drawing shows at most {MAX_NODES}")
    layers = graph_layers(root)
    depth = max(layers.values())
    columns: list[list[Any]] = [[] for _ in range(depth + 1)]
    for node in nodes:
        columns[layers[id(node)]].append(node)
    # Rows: leaves in the order the search met them, later layers sorted by the mean row of their
    # inputs (fewer crossings), each column centred vertically.
    height = max(len(column) for column in columns)
    row: dict[int, float] = {}
    for k, column in enumerate(columns):
        if k > 0:
            column.sort(key=lambda n: sum(row[id(p)] for p, _ in _inputs(n)) / len(_inputs(n)))
        offset = (height - len(column)) / 2
        for j, node in enumerate(column):
            row[id(node)] = offset + j
    return nodes, layers, row, depth, height


_BOX_W, _BOX_H, _DX, _DY = 1.5, 0.78, 2.7, 1.15


def _figure_size(depth: int, height: int, panels: int = 1) -> tuple[float, float]:
    return max(4.5, 1.0 + 2.2 * (depth + 1)) * panels, max(2.8, 0.6 + 1.05 * height)


def _draw_on(ax: Any, root: Any, names: Mapping[str, Any] | None, lines: Any, show_local: bool = True,
             backwards: bool = False, arrow_colour: str = "dimgrey") -> None:
    """Draw the graph on ``ax``: boxes holding a head line plus ``lines(node)`` (text, colour)
    pairs, arrows input -> result (or result -> input with ``backwards``) labelled with the local
    derivative."""
    nodes, layers, row, depth, height = _layout(root)
    label_of = {id(node): name for name, node in (names or {}).items()}
    ax.set_xlim(-1.0, depth * _DX + 1.0)
    ax.set_ylim(-0.8 - (height - 1) * _DY, 0.8)
    ax.axis("off")

    def centre(node: Any) -> tuple[float, float]:
        return layers[id(node)] * _DX, -row[id(node)] * _DY

    for node in nodes:
        x1, y1 = centre(node)
        for parent, local in _inputs(node):
            x0, y0 = centre(parent)
            tail, head = (x0 + _BOX_W / 2, y0), (x1 - _BOX_W / 2, y1)
            ax.add_patch(FancyArrowPatch(head if backwards else tail, tail if backwards else head,
                                         arrowstyle="-|>", mutation_scale=12, color=arrow_colour,
                                         linewidth=1.1, shrinkA=2, shrinkB=2))
            if show_local and local is not None:
                # in the middle of the first gap between columns, so an arrow that skips layers
                # is labelled before it passes behind other boxes
                t = 0.5 * (_DX - _BOX_W) / (x1 - x0 - _BOX_W)
                ax.text(x0 + _BOX_W / 2 + t * (x1 - x0 - _BOX_W), y0 + t * (y1 - y0),
                        f"\u2202={_number(local)}", fontsize=7, color="dimgrey", ha="center", va="center",
                        zorder=2.5, bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none",
                                          "alpha": 0.85})

    for node in nodes:
        x, y = centre(node)
        inputs = _inputs(node)
        colour = _ROOT if node is root else (_INNER if inputs else _LEAF)
        ax.add_patch(FancyBboxPatch((x - _BOX_W / 2, y - _BOX_H / 2), _BOX_W, _BOX_H,
                                    boxstyle="round,pad=0.02,rounding_size=0.1", facecolor=colour,
                                    edgecolor="black", linewidth=1.0, zorder=3))
        op = getattr(node, "op", "") or ""
        head = label_of.get(id(node), "")
        head = f"{head} = {op}" if head and op else (head or op or ("leaf" if not inputs else ""))
        ax.text(x, y + 0.2, head, ha="center", va="center", fontsize=9, fontweight="bold", zorder=4)
        for k, (text, text_colour) in enumerate(lines(node)):
            ax.text(x, y - 0.02 - 0.2 * k, text, ha="center", va="center", fontsize=8, color=text_colour, zorder=4)


def draw_computation_graph(
    root: Any,
    names: Mapping[str, Any] | None = None,
    title: str = "Computation graph: value and gradient of every node",
    show_local: bool = True,
) -> Figure:
    """Draw the graph behind ``root`` and return the figure (layered, inputs left, output right).

    ``names`` maps a label to a node (``{"x": x, "y": y}``) to name the inputs (or any node) in
    their boxes. Each box shows the node's name or operation, ``data`` and, in red, ``grad``; each
    arrow goes from an input to the result it was used in and, with ``show_local``, is labelled
    with the local derivative d(result)/d(input) the engine stored. Built with
    :class:`matplotlib.figure.Figure` (no pyplot state): a notebook shows it when it is the value
    of a cell. Raises ``ValueError`` for graphs of more than ``MAX_NODES`` nodes, which would not be
    readable.
    """
    _, _, _, depth, height = _layout(root)
    fig = Figure(figsize=_figure_size(depth, height))
    ax = fig.add_subplot()
    _draw_on(ax, root, names, lambda n: [(f"data {_number(n.data)}", "black"), (f"grad {_number(n.grad)}", _GRAD)],
             show_local)
    ax.set_title(title, fontsize=10)
    fig.text(0.5, 0.01, "arrows: forward pass, input \u2192 result, labelled \u2202 = local derivative;  "
             "grad = d(output)/d(node), summed over the arrows leaving the node",
             ha="center", va="bottom", fontsize=8, color="dimgrey")
    return fig


# --- forward mode against reverse mode ----------------------------------------------------------


class _Node:
    """A minimal recording scalar for the comparison figure (the same layout as Lab 02's Value)."""

    def __init__(self, data: float, parents: tuple = (), op: str = "") -> None:
        self.data, self.grad, self.parents, self.op = float(data), 0.0, tuple(parents), op

    def __add__(self, other: _Node) -> _Node:
        return _Node(self.data + other.data, ((self, 1.0), (other, 1.0)), "+")

    def __mul__(self, other: _Node) -> _Node:
        return _Node(self.data * other.data, ((self, other.data), (other, self.data)), "*")

    def sin(self) -> _Node:
        return _Node(math.sin(self.data), ((self, math.cos(self.data)),), "sin")


def forward_tangents(root: Any, seeds: Mapping[int, float]) -> dict[int, float]:
    """Forward mode on a recorded graph: ``id(node) -> tangent``, every tangent the sum over the
    node's inputs of local derivative x the input's tangent, leaves taking theirs from ``seeds``
    (``id(leaf) -> tangent``, 0 if absent). What dual numbers carry in their ``dual`` part."""
    tangent: dict[int, float] = {}
    for node in graph_nodes(root):
        inputs = _inputs(node)
        tangent[id(node)] = (sum(local * tangent[id(p)] for p, local in inputs) if inputs
                             else float(seeds.get(id(node), 0.0)))
    return tangent


def reverse_adjoints(root: Any) -> dict[int, float]:
    """Reverse mode on a recorded graph: ``id(node) -> d(root)/d(node)``, without touching ``grad``."""
    adjoint = {id(node): 0.0 for node in graph_nodes(root)}
    adjoint[id(root)] = 1.0
    for node in reversed(graph_nodes(root)):
        for parent, local in _inputs(node):
            adjoint[id(parent)] += local * adjoint[id(node)]
    return adjoint


def draw_forward_vs_reverse(x: float = 0.5, y: float = 2.0) -> Figure:
    """Forward and reverse mode on the same expression f(x, y) = x * y + sin(x), side by side.

    Left, forward mode: tangents flow with the arrows, input -> result, from the seeds x' = 1,
    y' = 0 (dual numbers ``Dual(x, 1)``, ``Dual(y, 0)``); one pass gives df/dx only, and df/dy
    needs a second pass with the seeds swapped (both tangents are shown, one per pass). Right,
    reverse mode: one backward pass from f's adjoint 1 against the arrows gives df/dx and df/dy
    at once. Both panels label the arrows with the same local derivatives.
    """
    xs, ys = _Node(x), _Node(y)
    f = xs * ys + xs.sin()
    names = {"x": xs, "y": ys, "f": f}
    pass_x = forward_tangents(f, {id(xs): 1.0})
    pass_y = forward_tangents(f, {id(ys): 1.0})
    adjoint = reverse_adjoints(f)
    _, _, _, depth, height = _layout(f)
    width, tall = _figure_size(depth, height, panels=2)
    fig = Figure(figsize=(width, tall + 1.4))
    left, right = fig.subplots(1, 2)
    fig.subplots_adjust(top=0.72, bottom=0.08, left=0.02, right=0.98, wspace=0.08)
    blue, green = "#1f5fa8", "#2e7d32"
    _draw_on(left, f, names, lambda n: [(f"pass 1 (seed x): {_number(pass_x[id(n)])}", blue),
                                        (f"pass 2 (seed y): {_number(pass_y[id(n)])}", green)],
             arrow_colour=blue)
    _draw_on(right, f, names, lambda n: [(f"data {_number(n.data)}", "black"),
                                         (f"adjoint {_number(adjoint[id(n)])}", _GRAD)],
             backwards=True, arrow_colour=_GRAD)
    left.set_title("Forward mode (dual numbers): tangents flow input \u2192 output\n"
                   "one pass per input: seed x' = 1 for df/dx, then y' = 1 for df/dy", fontsize=10)
    right.set_title("Reverse mode (backward): adjoints flow output \u2192 input\n"
                    "one pass from f's adjoint 1 gives df/dx and df/dy together", fontsize=10)
    fig.suptitle(f"f(x, y) = x * y + sin(x) at x = {_number(x)}, y = {_number(y)}:  "
                 f"df/dx = {_number(pass_x[id(f)])}, df/dy = {_number(pass_y[id(f)])}", fontsize=11, y=0.98)
    fig.text(0.5, 0.01, "arrows labelled \u2202 = local derivative; forward: tangent = \u03a3 \u2202 \u00d7 input's tangent;  "
             "reverse: adjoint = \u03a3 \u2202 \u00d7 result's adjoint", ha="center", va="bottom", fontsize=8,
             color="dimgrey")
    return fig
