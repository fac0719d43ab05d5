"""Tests of course_utils.concepts.autodiff: the layout helpers and the computation-graph figure,
on a tiny stand-in node class (the attributes Lab 02's Value has, nothing more)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.text
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from course_utils.concepts.autodiff import MAX_NODES, draw_computation_graph, graph_layers, graph_nodes


class Node:
    """A stand-in for a reverse-mode node: data, grad, parents as (node, local derivative) pairs, op."""

    def __init__(self, data, parents=(), op=""):
        self.data, self.grad, self.parents, self.op = float(data), 0.0, tuple(parents), op

    def __add__(self, other):
        return Node(self.data + other.data, [(self, 1.0), (other, 1.0)], "+")

    def __mul__(self, other):
        return Node(self.data * other.data, [(self, other.data), (other, self.data)], "*")

    def sin(self):
        return Node(math.sin(self.data), [(self, math.cos(self.data))], "sin")

    def backward(self):
        self.grad = 1.0
        for node in reversed(graph_nodes(self)):
            for parent, local in node.parents:
                parent.grad += local * node.grad


class Bare:
    """No op, parents as bare nodes, and an __eq__ that makes it unhashable."""

    def __init__(self, data, parents=()):
        self.data, self.grad, self.parents = data, 0.0, list(parents)

    def __eq__(self, other):
        return True

    __hash__ = None


def texts(fig: Figure) -> list[str]:
    fig.canvas.draw()
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def test_graph_nodes_lists_each_node_once_after_its_inputs():
    x, y = Node(2.0), Node(3.0)
    z = x * y
    out = z + z.sin() + x  # z used twice, x three times (directly and through z)
    nodes = graph_nodes(out)
    assert len(nodes) == len({id(n) for n in nodes}) == 6  # x, y, z, sin z, z + sin z, out
    position = {id(n): k for k, n in enumerate(nodes)}
    for node in nodes:
        for parent, _ in node.parents:
            assert position[id(parent)] < position[id(node)]
    assert nodes[-1] is out


def test_graph_layers_are_longest_paths_from_the_inputs():
    x, y = Node(2.0), Node(3.0)
    z = x * y
    s = z.sin()
    out = s + x
    layers = graph_layers(out)
    assert [layers[id(n)] for n in (x, y, z, s, out)] == [0, 0, 1, 2, 3]


def test_graph_nodes_handles_deep_chains_and_diamonds_without_recursion():
    x = Node(1.0)
    p = x
    for _ in range(3000):  # deeper than Python's recursion limit
        p = p + p
    nodes = graph_nodes(p)
    assert len(nodes) == 3001
    assert graph_layers(p)[id(p)] == 3000


def test_the_figure_shows_every_node_value_gradient_and_local_derivative():
    x, y = Node(0.5), Node(2.0)
    out = x * y + x.sin()
    out.backward()
    assert x.grad == pytest.approx(2.0 + math.cos(0.5))
    fig = draw_computation_graph(out, names={"x": x, "y": y, "f": out})
    assert isinstance(fig, Figure)
    drawn = texts(fig)
    ax = fig.axes[0]
    assert ax.get_title()
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) == 5  # x, y, x*y, sin x, out
    assert len(arrows) == 5  # x->*, y->*, x->sin, *->+, sin->+
    assert {"x", "y", "*", "sin", "f = +"} <= set(drawn)
    assert f"grad {x.grad:.4g}" in drawn and f"grad {y.grad:.4g}" in drawn and "grad 1" in drawn
    assert f"data {out.data:.4g}" in drawn
    assert f"\u2202={math.cos(0.5):.4g}" in drawn and "\u2202=2" in drawn and "\u2202=0.5" in drawn
    assert any("local derivative" in t for t in drawn)
    plt.close(fig)


def test_the_layout_puts_inputs_left_of_results():
    x, y = Node(0.5), Node(2.0)
    out = (x * y).sin() + y
    fig = draw_computation_graph(out)
    ax = fig.axes[0]
    centres = [p.get_x() + p.get_width() / 2 for p in ax.patches if isinstance(p, FancyBboxPatch)]
    for arrow in (p for p in ax.patches if isinstance(p, FancyArrowPatch)):
        (x0, _), (x1, _) = arrow._posA_posB
        assert x1 > x0
    assert len(set(round(c, 6) for c in centres)) == 4  # layers 0..3
    plt.close(fig)


def test_duck_typing_without_op_with_bare_parents_and_unhashable_nodes():
    a, b = Bare(1.0), Bare(2.0)
    out = Bare(3.0, [a, b])
    fig = draw_computation_graph(out, names={"a": a})
    drawn = texts(fig)
    assert "a" in drawn and "leaf" in drawn
    assert not any(t.startswith("\u2202=") for t in drawn)  # no local derivatives to show
    plt.close(fig)


def test_figure_uses_no_pyplot_state_and_refuses_huge_graphs():
    before = plt.get_fignums()
    x = Node(1.0)
    fig = draw_computation_graph(x * x)
    fig.canvas.draw()
    assert plt.get_fignums() == before
    p = x
    for _ in range(MAX_NODES):
        p = p + x
    with pytest.raises(ValueError, match="at most"):
        draw_computation_graph(p)


def test_forward_tangents_and_reverse_adjoints_agree_with_calculus():
    from course_utils.concepts.autodiff import forward_tangents, reverse_adjoints

    x, y = Node(0.7), Node(-1.3)
    z = x * y
    out = z * z + x.sin()  # d/dx = 2 x y^2 + cos x, d/dy = 2 x^2 y
    dx, dy = 2 * 0.7 * 1.3**2 + math.cos(0.7), 2 * 0.7**2 * -1.3
    assert forward_tangents(out, {id(x): 1.0})[id(out)] == pytest.approx(dx)
    assert forward_tangents(out, {id(y): 1.0})[id(out)] == pytest.approx(dy)
    adjoint = reverse_adjoints(out)
    assert adjoint[id(x)] == pytest.approx(dx) and adjoint[id(y)] == pytest.approx(dy)
    assert adjoint[id(out)] == 1.0 and adjoint[id(z)] == pytest.approx(2 * z.data)
    assert x.grad == 0.0  # the figure's helpers never touch the engine's own gradients


def test_forward_vs_reverse_figure_has_both_modes():
    from course_utils.concepts.autodiff import draw_forward_vs_reverse

    fig = draw_forward_vs_reverse(0.5, 2.0)
    drawn = texts(fig)
    left, right = fig.axes
    assert "Forward mode" in left.get_title() and "Reverse mode" in right.get_title()
    dfdx = 2.0 + math.cos(0.5)
    assert f"pass 1 (seed x): {dfdx:.4g}" in drawn and "pass 2 (seed y): 0.5" in drawn
    assert f"adjoint {dfdx:.4g}" in drawn and "adjoint 0.5" in drawn
    for ax, rightwards in ((left, True), (right, False)):
        arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
        assert len(arrows) == 5
        for arrow in arrows:
            (x0, _), (x1, _) = arrow._posA_posB
            assert (x1 > x0) == rightwards
    plt.close(fig)
