"""The only autograder code that runs inside a student's kernel, and so the only code here a
student can read, replace or fake.

Nothing in this package decides a mark. It calls the student's code on inputs drawn from a
seed and sends back plain data (numbers, strings, arrays as raw bytes with a dtype); the
grader's own process (:mod:`autograder.judge`) decodes that data strictly and judges it.
Whatever a submission does to this code, the worst it can achieve is sending wrong or no
data, which scores zero.
"""
