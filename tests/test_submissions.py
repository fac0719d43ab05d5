import os

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


def test_two_entries_for_one_student_grade_the_newest_and_report_both(tmp_path):
    (tmp_path / "alice.ipynb").write_text("{}")
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "lab01_toy.ipynb").write_text("{}")
    os.utime(tmp_path / "alice.ipynb", (1_000_000, 1_000_000))
    os.utime(tmp_path / "alice" / "lab01_toy.ipynb", (2_000_000, 2_000_000))
    (only,) = discover(tmp_path, LAB)
    assert only.problem is None and only.path == tmp_path / "alice" / "lab01_toy.ipynb"
    (note,) = only.notes
    assert "more than one submission for alice" in note and "alice/lab01_toy.ipynb" in note and "alice.ipynb" in note


def test_ids_differing_only_in_case_are_one_student(tmp_path):
    (tmp_path / "Alice.ipynb").write_text("{}")
    (tmp_path / "alice.ipynb").write_text("{}")
    os.utime(tmp_path / "Alice.ipynb", (2_000_000, 2_000_000))
    os.utime(tmp_path / "alice.ipynb", (1_000_000, 1_000_000))
    (only,) = discover(tmp_path, LAB)
    assert only.student == "Alice" and only.path.name == "Alice.ipynb" and only.problem is None
    assert "Alice.ipynb" in only.notes[0] and "ignored alice.ipynb" in only.notes[0]
    os.utime(tmp_path / "alice.ipynb", (3_000_000, 3_000_000))  # a newer resubmission wins; the id stays
    (only,) = discover(tmp_path, LAB)
    assert only.student == "Alice" and only.path.name == "alice.ipynb"


def test_a_usable_notebook_beats_a_newer_broken_entry(tmp_path):
    (tmp_path / "bob.ipynb").write_text("{}")
    (tmp_path / "bob").mkdir()  # empty folder: no notebook
    (only,) = discover(tmp_path, LAB)
    assert only.path.name == "bob.ipynb" and only.problem is None and "ignored bob" in only.notes[0]


def test_symbolic_links_are_refused_never_followed(tmp_path):
    secret = tmp_path / "solutions"
    secret.mkdir()
    (secret / "lab01_toy.ipynb").write_text("{}")
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "mallory.ipynb").symlink_to(secret / "lab01_toy.ipynb")
    (folder / "trudy").symlink_to(secret, target_is_directory=True)
    (folder / "eve").mkdir()
    (folder / "eve" / "lab01_toy.ipynb").symlink_to(secret / "lab01_toy.ipynb")
    (folder / "oscar").mkdir()
    (folder / "oscar" / "lab01_toy").symlink_to(secret, target_is_directory=True)
    found = {s.student: s for s in discover(folder, LAB)}
    assert sorted(found) == ["eve", "mallory", "oscar", "trudy"]
    for student, submission in found.items():
        assert submission.path is None and "symbolic link" in submission.problem, (student, submission)


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
