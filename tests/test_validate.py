import nbformat

from autograder.authoring.validate import validate_labs


def test_toy_lab_is_valid(toy_course):
    (verdict,) = validate_labs(toy_course, list(toy_course.labs), progress=False)
    assert verdict.ok, verdict.problems
    assert verdict.solution.auto_score == verdict.solution.auto_max == 5
    assert verdict.release.auto_score == 0


def test_a_wrong_solution_and_a_leaky_release_are_caught(toy_course):
    lab = toy_course.labs[0]
    source = nbformat.read(toy_course.source_notebook(lab), as_version=4)
    for cell in source.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q2-square":
            cell.source = "def square(x):\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION"
    nbformat.write(source, toy_course.source_notebook(lab))
    release = nbformat.read(toy_course.release_notebook(lab), as_version=4)
    for cell in release.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q1-double":
            cell.source = "def double(x):\n    return 2 * x"
    nbformat.write(release, toy_course.release_notebook(lab))
    (verdict,) = validate_labs(toy_course, [lab], progress=False)
    assert not verdict.ok
    assert any("q2-square-tests: the judge refuses the reference solution's own data" in p for p in verdict.problems), verdict.problems
    assert any("release earns 2 points on 'q1-double-tests'" in p for p in verdict.problems)
