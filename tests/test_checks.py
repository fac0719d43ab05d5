import numpy as np
import pytest
import torch

from course_utils.checks import (
    CheckFailed,
    check_close,
    check_dtype,
    check_gradient,
    check_shape,
    check_type,
    numerical_gradient,
    passed,
)


def test_failures_render_as_a_one_line_hint():
    with pytest.raises(CheckFailed) as info:
        check_shape(torch.zeros(2, 3), (3, 2), "W")
    assert info.value._render_traceback_() == ["\u274c W: expected shape (3, 2), got (2, 3) - transposed?"]
    assert isinstance(info.value, AssertionError)


@pytest.mark.parametrize(
    "value, shape, hint",
    [
        (torch.zeros(3, 1, 2), (3, 2), "extra dimension"),
        (torch.zeros(3), (3, 1), "missing a dimension"),
        (torch.zeros(6), (2, 3), "reshape"),
        (torch.zeros(4), (5,), "expected shape (5,), got (4,)"),
    ],
)
def test_shape_hints(value, shape, hint):
    with pytest.raises(CheckFailed, match=hint.replace("(", r"\(").replace(")", r"\)")):
        check_shape(value, shape)


def test_shape_wildcard_and_numpy():
    check_shape(np.zeros((5, 2)), (-1, 2))
    check_shape(torch.zeros(7, 2), (-1, 2))


def test_type_hints():
    with pytest.raises(CheckFailed, match="torch.from_numpy"):
        check_type(np.zeros(2), torch.Tensor, "x")
    with pytest.raises(CheckFailed, match=r"\.item\(\)"):
        check_type(torch.tensor(1.0), float, "loss")
    with pytest.raises(CheckFailed, match="forget to return"):
        check_type(None, (tuple, list), "result")
    check_type((1, 2), (tuple, list))


def test_dtype_hints():
    with pytest.raises(CheckFailed, match=r"\.float\(\)"):
        check_dtype(torch.zeros(2, dtype=torch.float64), torch.float32)
    with pytest.raises(CheckFailed, match="integer tensors"):
        check_dtype(torch.zeros(2, dtype=torch.int64), torch.float32)
    check_dtype(torch.zeros(2), torch.float32)


def test_close_reports_first_index_and_largest_error():
    expected = torch.arange(6.0).reshape(2, 3)
    actual = expected.clone()
    actual[1, 2] += 0.5
    with pytest.raises(CheckFailed, match=r"at index \(1, 2\): got 5\.5, expected 5 \(1 of 6 entries differ; largest absolute error 0\.5"):
        check_close(actual, expected, "A")
    check_close(actual, expected, atol=0.6)


def test_close_explains_nans_and_shape_mismatch():
    with pytest.raises(CheckFailed, match="NaN at index"):
        check_close(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]))
    with pytest.raises(CheckFailed, match="expected shape"):
        check_close(torch.zeros(2, 3), torch.zeros(3, 2))


def test_close_on_scalars():
    check_close(0.1 + 0.2, 0.3)
    with pytest.raises(CheckFailed, match="got 1, expected 2"):
        check_close(1.0, 2.0)


def test_numerical_gradient_matches_closed_form():
    x = torch.tensor([0.3, -1.2, 2.0])
    grad = numerical_gradient(lambda v: (v**3).sum(), x)
    torch.testing.assert_close(grad, 3 * x.double() ** 2, rtol=1e-6, atol=1e-6)


def test_check_gradient_catches_a_wrong_gradient():
    x = torch.randn(4, generator=torch.Generator().manual_seed(0))
    check_gradient(lambda v: (v.sin() * v).sum(), x)
    check_gradient(lambda v: (v**2).sum(), x, grad=2 * x)
    with pytest.raises(CheckFailed, match="gradient: values differ"):
        check_gradient(lambda v: (v**2).sum(), x, grad=x)


def test_passed_prints(capsys):
    passed("shapes")
    assert "shapes" in capsys.readouterr().out


def test_objects_of_notebook_classes_cannot_pass_as_library_types():
    class Liar(float):
        def __eq__(self, other):
            return True

    Liar.__module__ = "__main__"  # as if defined in a notebook cell
    with pytest.raises(CheckFailed, match="notebook's own class Liar"):
        check_type(Liar(1.0), float, "loss")

    class Disguised:
        __class__ = torch.Tensor  # isinstance() would believe this

    with pytest.raises(CheckFailed, match="notebook's own class|expected Tensor"):
        check_type(Disguised(), torch.Tensor, "U")

    class Mine:
        pass

    Mine.__module__ = "__main__"
    check_type(Mine(), Mine, "mine")  # a class the lab itself asks for is fine


def test_notebook_subclasses_of_modules_and_datasets_are_fine():
    class Net(torch.nn.Module):
        pass

    class Data(torch.utils.data.Dataset):
        pass

    Net.__module__ = Data.__module__ = "__main__"
    check_type(Net(), torch.nn.Module, "model")
    check_type(Data(), torch.utils.data.Dataset, "dataset")
