"""Concept figures: the mechanism of each lab's central idea, drawn with matplotlib.

One module per idea (``course_utils.concepts.vae``, ``...diffusion``, ...), each with a
``draw_*`` function that returns the figure, so a notebook cell shows it with one call and
it renders offline in JupyterLab and Colab alike.
"""
