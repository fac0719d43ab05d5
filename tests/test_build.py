import json

from autograder.authoring.build import build, colab_url, render_colab_links
from autograder.course import load_course


def test_build_writes_release_data_and_links(toy_root):
    course = load_course(toy_root)
    report = build(course)
    assert sorted(report.written) == ["colab_links.md", "labs/lab01_toy/lab01_toy.ipynb", "labs/lab01_toy/numbers.txt"]
    release = json.loads((toy_root / "labs/lab01_toy/lab01_toy.ipynb").read_text())
    first, second = release["cells"][:2]
    assert first["id"] == "colab-badge" and colab_url(course, course.labs[0]) in "".join(first["source"])
    assert second["id"] == "colab-setup" and "google.colab" in "".join(second["source"])
    assert "someone/toy@v1" in "".join(second["source"])
    assert all(not c.get("outputs") for c in release["cells"] if c["cell_type"] == "code")


def test_build_is_idempotent_and_check_detects_drift(toy_root):
    course = load_course(toy_root)
    build(course)
    assert build(course).written == []
    assert build(course, check=True).differences == []
    release = toy_root / "labs/lab01_toy/lab01_toy.ipynb"
    release.write_text(release.read_text().replace("double", "triple"))
    (toy_root / "labs/lab01_toy/numbers.txt").write_text("changed")
    (toy_root / "labs/lab99_stale").mkdir()
    differences = build(course, check=True).differences
    assert any("lab01_toy.ipynb is out of date" in d for d in differences)
    assert any("numbers.txt differs" in d for d in differences)
    assert any("lab99_stale has no entry" in d for d in differences)
    assert "triple" in release.read_text(), "--check must not write"


def test_colab_links_point_at_existing_releases(toy_root):
    course = load_course(toy_root)
    build(course)
    text = render_colab_links(course)
    for lab in course.labs:
        assert colab_url(course, lab) in text
        assert course.release_notebook(lab).is_file()


def test_install_cell_uses_the_repositorys_distribution_name(toy_root):
    (toy_root / "pyproject.toml").write_text('[project]\nname = "toy-helpers"\nversion = "1"\n')
    course = load_course(toy_root)
    build(course)
    release = json.loads((toy_root / "labs/lab01_toy/lab01_toy.ipynb").read_text())
    assert '"toy-helpers @ git+https://github.com/someone/toy@v1"' in "".join(release["cells"][1]["source"])


def test_build_can_be_limited_to_chosen_labs(toy_root):
    course = load_course(toy_root)
    assert build(course, labs=[]).written == ["colab_links.md"]
    assert not (toy_root / "labs/lab01_toy/lab01_toy.ipynb").exists()
    report = build(course, labs=[course.lab("1")])
    assert "labs/lab01_toy/lab01_toy.ipynb" in report.written
