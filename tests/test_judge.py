"""The probe/judge split: the in-kernel encoding, the strict decoding, the hidden-block split,
the judge's verdicts and the reference file."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from autograder.in_kernel.probe_runtime import run_probe, to_tree
from autograder.judge import expect
from autograder.judge.hidden import HiddenBlockError, parse_test_cell
from autograder.judge.judging import judge_record
from autograder.judge.reference import check_reference, load_reference, write_reference
from autograder.judge.wire import MIME, MalformedRecord, ProbeRecord, decode_record, records_from_outputs


def _wire(value, nonce="n1") -> dict:
    arrays: list[dict] = []
    return {"ok": True, "data": {"tree": to_tree(value, arrays), "arrays": arrays}, "nonce": nonce}


def _roundtrip(value):
    return decode_record(json.loads(json.dumps(_wire(value))), "n1").data


# --------------------------------------------------------------------------- the wire format


def test_plain_values_survive_the_wire():
    data = _roundtrip({"i": 3, "f": 0.5, "b": True, "none": None, "s": "héllo", "nested": [1, [2.5, {"k": "v"}]], "t": (1, 2)})
    assert data == {"i": 3, "f": 0.5, "b": True, "none": None, "s": "héllo", "nested": [1, [2.5, {"k": "v"}]], "t": [1, 2]}
    assert type(data["b"]) is bool and type(data["i"]) is int


def test_special_floats_survive_the_wire():
    data = _roundtrip({"values": [float("nan"), float("inf"), float("-inf")]})
    assert np.isnan(data["values"][0]) and data["values"][1:] == [float("inf"), float("-inf")]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int64, torch.uint8, torch.bool])
def test_tensors_arrive_as_arrays_with_their_dtype(dtype):
    tensor = (torch.arange(12).reshape(3, 4) % 3).to(dtype)
    got = _roundtrip({"x": tensor})["x"]
    assert isinstance(got, np.ndarray) and got.shape == (3, 4)
    assert got.dtype == tensor.numpy().dtype
    np.testing.assert_array_equal(got, tensor.numpy())


def test_tensors_that_need_care_are_converted():
    leaf = torch.ones(2, 3, requires_grad=True)
    data = _roundtrip({"grad": leaf * 2, "t": torch.arange(6.0).reshape(2, 3).T, "bf": torch.ones(2, dtype=torch.bfloat16), "np": np.float32(1.5)})
    np.testing.assert_array_equal(data["grad"], np.full((2, 3), 2.0, dtype=np.float32))
    np.testing.assert_array_equal(data["t"], np.arange(6.0, dtype=np.float32).reshape(2, 3).T)
    assert data["bf"].dtype == np.float32
    assert data["np"].shape == () and data["np"].dtype == np.float32


def _tampered(change) -> dict:
    payload = _wire({"x": np.arange(4.0)})
    change(payload)
    return payload


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.update(nonce="n2"),
        lambda p: p.update(extra=1),
        lambda p: p["data"]["arrays"][0].update(dtype="|O"),
        lambda p: p["data"]["arrays"][0].update(dtype="<U4"),
        lambda p: p["data"]["arrays"][0].update(shape=[5]),
        lambda p: p["data"]["arrays"][0].update(shape=[-4]),
        lambda p: p["data"]["arrays"][0].update(b64="not base64!"),
        lambda p: p["data"]["arrays"][0].update(code="print(1)"),
        lambda p: p["data"].update(tree={"x": {"$array": 3}}),
        lambda p: p["data"].update(tree={"x": {"$float": "1e999"}}),
        lambda p: p["data"].update(tree={"x": {"$pickle": "gASV"}}),
        lambda p: p["data"].update(tree=[1, 2]),
        lambda p: p["data"].update(tree={"x": 10**200}),
        lambda p: p["data"].update(tree={"x": "y" * 200_000}),
        lambda p: p["data"].update(tree={"x": json.loads("[" * 40 + "]" * 40)}),
        lambda p: p["data"].update(tree={"x": [0] * 300_000}),
        lambda p: p.update(ok="yes"),
        lambda p: p.update(ok=False),
    ],
)
def test_anything_but_a_well_formed_record_is_malformed(change):
    with pytest.raises(MalformedRecord):
        decode_record(_tampered(change), "n1")


def test_an_error_record_carries_the_students_error_only():
    record = decode_record({"ok": False, "error": "ZeroDivisionError: division by zero", "nonce": "n1"}, "n1")
    assert not record.ok and record.error.startswith("ZeroDivisionError")


def test_exactly_one_record_per_probe():
    one = {"output_type": "display_data", "data": {MIME: _wire({"a": 1})}, "metadata": {}}
    forged = {"output_type": "display_data", "data": {MIME: _wire({"a": 2}, nonce="guessed")}, "metadata": {}}
    record, stray = records_from_outputs([forged, one, forged], "n1")
    assert record.data == {"a": 1} and stray == 2, "records under another nonce are ignored, and counted"
    with pytest.raises(MalformedRecord, match="no data"):
        records_from_outputs([{"output_type": "stream", "name": "stdout", "text": "hi"}, forged], "n1")
    with pytest.raises(MalformedRecord, match="more than one"):
        records_from_outputs([one, one], "n1")


def test_big_endian_arrays_are_read_correctly():
    raw = np.arange(3, dtype=">f8")
    payload = {"ok": True, "nonce": "n1", "data": {"tree": {"x": {"$array": 0}}, "arrays": [{"dtype": raw.dtype.str, "shape": [3], "b64": base64.b64encode(raw.tobytes()).decode()}]}}
    np.testing.assert_array_equal(decode_record(payload, "n1").data["x"], [0.0, 1.0, 2.0])


# --------------------------------------------------------------------------- the probe runtime


def test_a_probe_sees_the_students_names_and_leaves_nothing_behind():
    namespace = {"double": lambda x: 2 * x}
    record = run_probe("HELPER = 3\ndef probe(seed):\n    return {'y': double(seed) + HELPER}", 5, namespace)
    assert record == {"ok": True, "data": {"tree": {"y": 13}, "arrays": []}}
    assert set(namespace) == {"double"}


@pytest.mark.parametrize(
    "student, error",
    [
        ("def f(x):\n    raise ValueError('bad')", "ValueError: bad"),
        ("def f(x):\n    raise SystemExit(0)", "SystemExit"),
        ("class Liar:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return Liar()", "not a number, string, array or tensor"),
        ("f = 3", "TypeError"),
    ],
)
def test_whatever_the_students_code_does_becomes_an_error_record(student, error):
    namespace: dict = {}
    exec(student, namespace)
    record = run_probe("def probe(seed):\n    return {'y': f(seed)}", 0, namespace)
    assert record["ok"] is False and error in record["error"]


# --------------------------------------------------------------------------- the hidden block

CELL = '''check(1)
### BEGIN HIDDEN TESTS
import math

LIMIT = 3


def probe_inputs(seed):
    return [seed, seed + 1]


def probe(seed):
    return {"out": [f(x) for x in probe_inputs(seed)], "inputs": probe_inputs(seed)}


def judge_expected(x):
    return math.floor(2 * x)


def judge(got, ref):
    assert got["out"] == [judge_expected(x) for x in ref["inputs"]], "f is not doubling"
### END HIDDEN TESTS
print("visible end")'''


def test_the_hidden_block_is_split_between_kernel_and_grader():
    test = parse_test_cell("q1", CELL)
    assert test.visible == 'check(1)\nprint("visible end")'
    assert "def probe(" in test.probe_source and "def probe_inputs(" in test.probe_source
    assert "judge" not in test.probe_source, "the kernel must never see the judge"
    assert "def judge(" in test.judge_source and "def judge_expected(" in test.judge_source
    assert "def probe" not in test.judge_source
    for source in (test.probe_source, test.judge_source):
        assert "import math" in source and "LIMIT = 3" in source


@pytest.mark.parametrize(
    "source, reason",
    [
        ("x = 1", "exactly one hidden block"),
        ("### BEGIN HIDDEN TESTS\ndef judge(got, ref):\n    pass\n### END HIDDEN TESTS", "no `probe`"),
        ("### BEGIN HIDDEN TESTS\ndef probe(seed):\n    return {}\n### END HIDDEN TESTS", "no `judge`"),
        ("### BEGIN HIDDEN TESTS\nassert f(1) == 2\ndef probe(s):\n    return {}\ndef judge(g, r):\n    pass\n### END HIDDEN TESTS", "Assert statement"),
        ("### BEGIN HIDDEN TESTS\nf(1)\n### END HIDDEN TESTS", "Expr statement"),
        ("### BEGIN HIDDEN TESTS\ndef probe(:\n### END HIDDEN TESTS", "not valid Python"),
    ],
)
def test_blocks_not_in_the_probe_judge_form_are_refused(source, reason):
    with pytest.raises(HiddenBlockError, match=reason.replace("(", r"\(")):
        parse_test_cell("q1", source)


# --------------------------------------------------------------------------- judging

TEST = parse_test_cell("q1", CELL)


def _record(value) -> ProbeRecord:
    return decode_record(_wire(value), "n1")


def test_the_judge_accepts_right_answers_and_explains_wrong_ones():
    ref = _record({"out": [4, 6], "inputs": [2, 3]})
    assert judge_record(TEST, _record({"out": [4, 6], "inputs": [0, 0]}), ref).passed
    verdict = judge_record(TEST, _record({"out": [4, 7], "inputs": [2, 3]}), ref)
    assert not verdict.passed and verdict.message == "f is not doubling"


def test_no_data_errors_and_malformed_data_all_score_zero():
    ref = _record({"out": [4, 6], "inputs": [2, 3]})
    assert judge_record(TEST, "no data came back", ref).message == "no data came back"
    assert "raised an error" in judge_record(TEST, ProbeRecord(False, error="NameError: f"), ref).message
    crashed = judge_record(TEST, _record({"wrong key": 1}), ref)
    assert not crashed.passed and "could not be checked" in crashed.message


def test_a_reference_its_judge_refuses_is_reported():
    problems = check_reference({"q1": TEST}, {"q1": _record({"out": [4, 7], "inputs": [2, 3]})})
    assert problems and "refuses the reference" in problems[0]
    assert check_reference({"q1": TEST}, {"q1": "no data"}) and check_reference({"q1": TEST}, {}) != []
    assert check_reference({"q1": TEST}, {"q1": _record({"out": [4, 6], "inputs": [2, 3]})}) == []


def test_reference_records_round_trip_through_their_file(tmp_path):
    records = {"q1": _record({"x": np.linspace(0, 1, 5, dtype=np.float32), "n": 3, "nan": float("nan")})}
    write_reference(tmp_path / "ref.json", 7, records)
    loaded = load_reference(str(tmp_path / "ref.json"))
    np.testing.assert_array_equal(loaded["q1"].data["x"], records["q1"].data["x"])
    assert loaded["q1"].data["n"] == 3 and np.isnan(loaded["q1"].data["nan"])
    assert json.loads((tmp_path / "ref.json").read_text())["seed"] == 7


# --------------------------------------------------------------------------- expect


def test_expect_messages_never_quote_the_reference():
    ref = np.array([[1.25, 2.5], [3.75, 5.125]])
    with pytest.raises(expect.Refused) as refused:
        expect.close(ref + np.array([[0, 0], [0, 1]]), ref, "W")
    message = str(refused.value)
    assert "1 of 4" in message and "(1, 1)" in message and "5.125" not in message and "6.125" in message
    with pytest.raises(expect.Refused) as refused:
        expect.close(0.5, 0.75, "loss")
    assert "0.75" not in str(refused.value)
    with pytest.raises(expect.Refused, match=r"expected shape \(2, 2\), got \(2,\)"):
        expect.close(np.zeros(2), ref, "W")


def test_expect_accepts_any_float_dtype_and_plain_numbers():
    ref = np.linspace(0, 1, 4, dtype=np.float32)
    expect.close(ref.astype(np.float64), ref, "x")
    expect.close(np.float64(2.0), 2.0, "y")
    assert expect.number(np.array([3.0]), "z") == 3.0
    for bad in ("3", None, True, [1.0]):
        with pytest.raises(expect.Refused):
            expect.number(bad, "z")
    with pytest.raises(expect.Refused, match="inf or NaN"):
        expect.finite(np.array([1.0, np.nan]), "v")
    with pytest.raises(expect.Refused, match="integers"):
        expect.array(np.zeros(2), "labels", kind="i")
