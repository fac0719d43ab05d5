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
"""

from __future__ import annotations

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
    nodes = graph_nodes(root)
    if len(nodes) > MAX_NODES:
        raise ValueError(f"the graph has {len(nodes)} nodes; draw_computation_graph shows at most {MAX_NODES}")
    label_of = {id(node): name for name, node in (names or {}).items()}
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

    box_w, box_h, dx, dy = 1.5, 0.78, 2.7, 1.15
    fig = Figure(figsize=(max(4.5, 1.0 + 2.2 * (depth + 1)), max(2.8, 0.6 + 1.05 * height)))
    ax = fig.add_subplot()
    ax.set_xlim(-1.0, depth * dx + 1.0)
    ax.set_ylim(-0.8 - (height - 1) * dy, 0.8)
    ax.axis("off")

    def centre(node: Any) -> tuple[float, float]:
        return layers[id(node)] * dx, -row[id(node)] * dy

    for node in nodes:
        x1, y1 = centre(node)
        for parent, local in _inputs(node):
            x0, y0 = centre(parent)
            ax.add_patch(FancyArrowPatch((x0 + box_w / 2, y0), (x1 - box_w / 2, y1), arrowstyle="-|>",
                                         mutation_scale=12, color="dimgrey", linewidth=1.1,
                                         shrinkA=2, shrinkB=2))
            if show_local and local is not None:
                # in the middle of the first gap between columns, so an arrow that skips layers
                # is labelled before it passes behind other boxes
                t = 0.5 * (dx - box_w) / (x1 - x0 - box_w)
                ax.text(x0 + box_w / 2 + t * (x1 - x0 - box_w), y0 + t * (y1 - y0),
                        f"\u2202={_number(local)}", fontsize=7, color="dimgrey", ha="center", va="center",
                        zorder=2.5, bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none",
                                          "alpha": 0.85})

    for node in nodes:
        x, y = centre(node)
        inputs = _inputs(node)
        colour = _ROOT if node is root else (_INNER if inputs else _LEAF)
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h,
                                    boxstyle="round,pad=0.02,rounding_size=0.1", facecolor=colour,
                                    edgecolor="black", linewidth=1.0, zorder=3))
        op = getattr(node, "op", "") or ""
        head = label_of.get(id(node), "")
        head = f"{head} = {op}" if head and op else (head or op or ("leaf" if not inputs else ""))
        ax.text(x, y + 0.2, head, ha="center", va="center", fontsize=9, fontweight="bold", zorder=4)
        ax.text(x, y - 0.02, f"data {_number(node.data)}", ha="center", va="center", fontsize=8, zorder=4)
        ax.text(x, y - 0.22, f"grad {_number(node.grad)}", ha="center", va="center", fontsize=8, color=_GRAD, zorder=4)

    ax.set_title(title, fontsize=10)
    fig.text(0.5, 0.01, "arrows: forward pass, input \u2192 result, labelled \u2202 = local derivative;  "
             "grad = d(output)/d(node), summed over the arrows leaving the node",
             ha="center", va="bottom", fontsize=8, color="dimgrey")
    return fig
