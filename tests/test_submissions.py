from autograder.course import Lab
from autograder.collect.submissions import discover

LAB = Lab("lab01_toy", "Toy", "lab01_toy.ipynb")


def test_every_layout_and_every_mistake(tmp_path):
    (tmp_path / "alice.ipynb").write_text("{}")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "lab01_toy.ipynb").write_text("{}")
    (tmp_path / "carol" / "lab01_toy").mkdir(parents=True)
    (tmp_path / "carol" / "lab01_toy" / "lab01_toy.ipynb").write_text("{}")
    (tmp_path / "dave").mkdir()
    (tmp_path / "dave" / "Lab 1 final.ipynb").write_text("{}")
    (tmp_path / "erin").mkdir()
    (tmp_path / "frank.pdf").write_text("%PDF")
    (tmp_path / ".DS_Store").write_text("")
    (tmp_path / "__MACOSX").mkdir()
    found = {s.student: s for s in discover(tmp_path, LAB)}
    assert sorted(found) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert found["alice"].problem is None and found["alice"].path.name == "alice.ipynb"
    assert found["bob"].problem is None and found["carol"].problem is None
    assert "expected a notebook named lab01_toy.ipynb, found Lab 1 final.ipynb" in found["dave"].problem
    assert "no notebook" in found["erin"].problem
    assert "not a notebook" in found["frank"].problem


def test_two_entries_for_one_student_are_reported(tmp_path):
    (tmp_path / "alice.ipynb").write_text("{}")
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "lab01_toy.ipynb").write_text("{}")
    (only,) = discover(tmp_path, LAB)
    assert only.path is None and "more than one submission" in only.problem


def test_unsafe_names_are_sanitised(tmp_path):
    (tmp_path / "bad name!.ipynb").write_text("{}")
    (only,) = discover(tmp_path, LAB)
    assert only.student == "bad_name"


def test_timestamps_follow_nbgrader_convention(tmp_path):
    folder = tmp_path / "zoe" / "lab01_toy"
    folder.mkdir(parents=True)
    (folder / "lab01_toy.ipynb").write_text("{}")
    (folder / "timestamp.txt").write_text("2026-10-05 14:30:00+00:00")
    (tmp_path / "yann").mkdir()
    (tmp_path / "yann" / "lab01_toy.ipynb").write_text("{}")
    (tmp_path / "yann" / "timestamp.txt").write_text("not a date")
    found = {s.student: s for s in discover(tmp_path, LAB)}
    assert found["zoe"].timestamp.isoformat() == "2026-10-05T14:30:00+00:00"
    assert found["yann"].timestamp is None
