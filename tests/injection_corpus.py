"""Ways a student could try to run script in the instructor's (or another student's) browser.

Each payload, if it ran, would set ``document.title`` (or write into the page) to a string
holding ``PWNED``; the tests grade a submission carrying all of them and check that, in every
page rendered from it, ``PWNED`` survives only as inert text (never inside a script, an
attribute, a URL or a style). Data only: the tests in test_injection.py use it.
"""

from __future__ import annotations

import base64

MARK = "PWNED"

# Written answers and extra Markdown cells (what a student types into a Markdown cell).
MARKDOWN = {
    "script tag": "<script>document.title='PWNED-md1'</script>",
    "img onerror": "Look: <img src=x onerror=\"document.title='PWNED-md2'\"> here",
    "svg with script": "<svg><script>document.title='PWNED-md3'</script></svg>",
    "svg onload": "<svg onload=\"document.title='PWNED-md4'\"><circle r=4 /></svg>",
    "markdown javascript link": "[see my working](javascript:document.title='PWNED-md5')",
    "html javascript link": "<a href=\"javascript:document.title='PWNED-md6'\">see my working</a>",
    "iframe srcdoc": "<iframe srcdoc=\"<script>parent.document.title='PWNED-md7'</script>\"></iframe>",
    "object and embed data url": (
        "<object data=\"data:text/html;base64,"
        + base64.b64encode(b"<script>parent.document.title='PWNED-md8'</script>").decode()
        + "\"></object>\n<embed src=\"data:text/html,<script>parent.document.title='PWNED-md8'</script>\">"
    ),
    "markdown data url link": "[notes](data:text/html,<script>document.title='PWNED-md9'</script>)",
    "css expression and url": (
        "<div style=\"width: expression(document.title='PWNED-md10'); background: url('javascript:document.title=1')\">styled PWNED-md10</div>\n"
        "<style>body { background: url(\"javascript:document.title='PWNED-md10'\") }</style>"
    ),
    "malformed tags": "<<script>script>document.title='PWNED-md11'<</script>/script> and <img/src=x/onerror=document.title='PWNED-md11'>",
    "entity-encoded javascript": (
        "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;document.title='PWNED-md12'\">x</a> "
        "[y](&#106;avascript:document.title='PWNED-md12')"
    ),
    "details ontoggle": "<details open ontoggle=\"document.title='PWNED-md13'\"><summary>s</summary>d</details>",
    "mutation xss": "<math><mtext><table><mglyph><style><img src=x onerror=\"document.title='PWNED-md14'\">",
    "meta refresh and base": (
        "<meta http-equiv=\"refresh\" content=\"0;url=javascript:document.title='PWNED-md15'\">\n"
        "<base href=\"javascript:document.title='PWNED-md15'//\">"
    ),
    "form formaction": "<form><button formaction=\"javascript:document.title='PWNED-md16'\">go</button></form>",
    "comment breakout": "<!--><script>document.title='PWNED-md17'</script>-->",
    "image alt breakout": "![x\" onerror=\"document.title='PWNED-md18](nothing.png)",
    "noscript breakout": "<noscript><p title=\"</noscript><img src=x onerror=document.title='PWNED-md19'>\"></noscript>",
    "inline script in a paragraph": "My answer is 4 <script>document.title='PWNED-md20'</script> and that is all.",
}

# Forms nbconvert's Markdown renderer already makes inert (mistune escapes alt text): kept
# in the corpus so that a renderer change that made them live would be caught.
INERT_WITHOUT_SANITISER = {"image alt breakout"}

# A written answer that also carries what a marker must still see once it is sanitised.
ANSWER = (
    "A product of two numbers with the same sign is non-negative, so $x^2 \\geq 0$ and\n\n"
    "$$\\sum_i x_i^2 \\geq 0.$$\n\n"
    "| x | x squared |\n|---|---|\n| -2 | 4 |\n| 3 | 9 |\n\n"
    "<img src=x onerror=\"document.title='PWNED-answer'\"> <b>QED</b>\n\n"
    "<script>document.title='PWNED-answer'</script>\n"
)
ANSWER_TEXT = ("A product of two numbers with the same sign is non-negative", "QED")
ANSWER_MATH = ("x^2 \\geq 0", "\\sum_i x_i^2 \\geq 0.")

# Attachments on a Markdown cell: only the PNG may survive.
_SVG = "<svg xmlns='http://www.w3.org/2000/svg' onload=\"document.title='PWNED-att1'\"><script>document.title='PWNED-att1'</script></svg>"
ATTACHMENTS = {
    "evil.svg": {"image/svg+xml": base64.b64encode(_SVG.encode()).decode()},
    "evil.html": {"text/html": base64.b64encode(b"<script>document.title='PWNED-att2'</script>").decode()},
    "ok.png": {"image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="},
}
ATTACHMENT_MARKDOWN = "Pasted: ![mine](attachment:ok.png) ![bad](attachment:evil.svg) ![bad2](attachment:evil.html)"

# Code a student adds: every kind of output a kernel can publish.
OUTPUT_CODE = r'''
from IPython.display import HTML, Javascript, Markdown, Latex, display
display(HTML("<b>table follows</b><script>document.title='PWNED-out1'</script><img src=x onerror=\"document.title='PWNED-out1'\">"
             "<table><tr><th>epoch</th><th>loss</th></tr><tr><td>1</td><td>0.5</td></tr></table>"))
display(Javascript("document.title='PWNED-out2'"))
display({"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' onload=\"document.title='PWNED-out3'\"><script>document.title='PWNED-out3'</script></svg>"}, raw=True)
display({"text/html": "<iframe src=\"javascript:parent.document.title='PWNED-out4'\"></iframe><a href=\"javascript:document.title='PWNED-out4'\">x</a>"},
        raw=True, metadata={"text/html": {"isolated": True}})
display({"application/vnd.jupyter.widget-view+json": {"model_id": "PWNED-out5"}, "text/markdown": "<script>document.title='PWNED-out5'</script>",
         "text/latex": "$\\href{javascript:document.title='PWNED-out5'}{x}$", "application/x-evil": "<script>PWNED-out5</script>"}, raw=True)
print("<script>document.title='PWNED-out6'</script>")
import sys; print("<img src=x onerror=\"document.title='PWNED-out7'\">", file=sys.stderr)
try:
    raise ValueError("<script>document.title='PWNED-out8'</script>")
except ValueError:
    get_ipython().showtraceback()
import matplotlib
matplotlib.use("agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(2, 2))
ax.plot([1, 2, 3], [1, 4, 9])
ax.set_title("squares")
import io
from IPython.display import Image
buffer = io.BytesIO()
fig.savefig(buffer, format="png")
display(Image(buffer.getvalue()), metadata={"image/png": {"width": 200, "alt": "PWNED-out9\" onerror=\"x"}, "filenames": {"image/png": "javascript:x"}})
plt.close(fig)
'''

# Names and file names a student controls (a roster name comes from the LMS, where students
# often set their own display name).
ROSTER_FIRST = "<img src=x onerror=\"document.title='PWNED-name1'\">Mallory"
ROSTER_LAST = "<script>document.title='PWNED-name2'</script>"
BAD_FILE_NAME = "<svg onload=alert('PWNED-file')>.txt"  # not a notebook: named in the rejection message
