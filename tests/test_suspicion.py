import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.review.suspicion import scan_notebook, scan_source


@pytest.mark.parametrize(
    "source, reason",
    [
        ("get_ipython().input_transformers_post.append(f)", "input transformer"),
        ("ip = get_ipython()\nip.ast_transformers.append(t)", "AST transformer"),
        ("get_ipython().set_custom_exc((Exception,), h)", "custom exception handler"),
        ("import sys\nsys.settrace(f)", "tracer"),
        ("import gc\nobjs = gc.get_objects()", "garbage collector"),
        ("np.allclose = lambda *a: True", "replaces a library attribute (np.allclose)"),
        ("setattr(torch, 'allclose', f)", "setattr on torch"),
        ("class A:\n    def __eq__(self, o):\n        return True", "__eq__"),
        ("class A:\n    __eq__ = lambda s, o: True", "comparison dunder"),
        ("open('/etc/passwd').read()", "outside its working directory (/etc/passwd)"),
        ("Path('../other/x.ipynb').read_text()", "outside its working directory"),
        ("import autograder.grade", "imports the autograder"),
        ("from socket import socket", "network"),
        ("import os\nos._exit(0)", "exits the interpreter abruptly"),
        ("import sys\nsys.exit()", "calls exit()"),
        ("%time x = sys._getframe(1).f_locals", "frames"),
    ],
)
def test_scan_finds_what_a_reviewer_should_see(source, reason):
    assert any(reason in found for found in scan_source(source)), scan_source(source)


@pytest.mark.parametrize(
    "source",
    [
        "def double(x):\n    return 2 * x",
        "import numpy as np\nimport torch\nU = torch.rand(3, 2)\nloss = ((A - U @ V.T) ** 2).sum()",
        "model.fc.weight = torch.nn.Parameter(w)",
        "with open('notes.txt') as f:\n    text = f.read()",
        "this is not python (",
    ],
)
def test_ordinary_code_is_not_flagged(source):
    assert scan_source(source) == []


def test_flags_already_in_the_lab_are_not_blamed_on_the_student():
    template = new_notebook(cells=[new_code_cell("import subprocess")])
    student = new_notebook(cells=[new_code_cell("import subprocess"), new_code_cell("import socket")])
    assert scan_notebook(student, baseline=template) == ["imports socket (network access)"]
