from autograder.cli import main


def test_build_then_check_then_demo(toy_root, capsys):
    assert main(["--root", str(toy_root), "build", "--check"]) == 1
    assert "missing" in capsys.readouterr().out
    assert main(["--root", str(toy_root), "build"]) == 0
    assert main(["--root", str(toy_root), "build", "--check"]) == 0
    assert main(["--root", str(toy_root), "demo", "--quiet", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert "5/5" in lines["reference"] and "0/5" in lines["blank"] and "rejected" in lines["corrupt"]


def test_unknown_lab_is_a_clear_error(toy_root, capsys):
    assert main(["--root", str(toy_root), "validate", "lab42_nothing"]) == 2
    assert "no lab 'lab42_nothing'" in capsys.readouterr().err


def test_outside_a_course_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) == 2
    assert "no course.toml" in capsys.readouterr().err
