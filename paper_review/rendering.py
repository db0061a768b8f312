"""Review Markdown -> safe HTML, with LaTeX math as MathML and highlighted code.

Everything happens on the server: math becomes MathML (browsers draw it
natively), code is coloured by Pygments (classes styled by the committed
static/paper_review/pygments.css), and the result goes through nh3 with a
short allow-list, so not even a staff-written review can carry a script.
"""

import functools
import logging
import xml.etree.ElementTree as etree

import markdown
import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from pygments.formatters import HtmlFormatter

logger = logging.getLogger(__name__)

# Where a review wants the table of this site's measured numbers: a paragraph of its own.
LIVE_NUMBERS_MARKER = "<p>[live-numbers]</p>"
PYGMENTS_STYLE = "github-dark"
CODE_CSS_CLASS = "codehilite"

# $$display$$ first, then $inline$. Inline math may not start or end with a space
# and may not be followed by a digit, so prices such as "$5 or $6" stay text.
DISPLAY_MATH = r"\$\$(?P<tex>.+?)\$\$"
INLINE_MATH = r"(?<![\\$])\$(?P<tex>[^\s$](?:[^$]*?[^\s$\\])?)\$(?!\d)"
# Run after code spans (190), so `$x$` in backticks stays code, and before
# backslash escapes (180) and emphasis, so LaTeX such as a_{i}*b_{j} survives.
MATH_PRIORITY = 185

MARKUP_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "sub", "sup",
    "a", "code", "pre", "span", "div", "blockquote", "ul", "ol", "li",
    "table", "thead", "tbody", "tr", "th", "td", "dl", "dt", "dd",
}  # fmt: skip
MATHML_TAGS = {
    "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "mtext", "mspace", "ms",
    "msub", "msup", "msubsup", "mfrac", "msqrt", "mroot", "mover", "munder", "munderover",
    "mstyle", "mpadded", "mphantom", "menclose", "mtable", "mtr", "mtd", "mfenced",
}  # fmt: skip
MATHML_ATTRIBUTES = {
    "math": {"xmlns", "display"},
    "mo": {"stretchy", "fence", "separator", "lspace", "rspace", "form", "largeop", "movablelimits", "accent"},
    "mi": {"mathvariant"},
    "mn": {"mathvariant"},
    "mtext": {"mathvariant"},
    "mover": {"accent"},
    "munder": {"accentunder"},
    "munderover": {"accent", "accentunder"},
    "mfrac": {"linethickness"},
    "mspace": {"width"},
    "mstyle": {"displaystyle", "scriptlevel", "mathvariant"},
    "mtable": {"columnalign", "rowspacing", "columnspacing"},
    "mtd": {"columnalign"},
    "menclose": {"notation"},
    "mpadded": {"width", "lspace"},
    "annotation": {"encoding"},
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "pre": {"class"},
    "span": {"class"},
    "div": {"class"},
    "th": {"style"},
    "td": {"style"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
    **MATHML_ATTRIBUTES,
}


def math_html(tex, display):
    """MathML for one formula; the LaTeX source as code when it does not parse."""
    try:
        return latex_to_mathml(tex.strip(), display="block" if display else "inline")
    except Exception as error:  # latex2mathml raises many exception types for bad input
        logger.warning("Could not convert LaTeX to MathML (%s): %r", type(error).__name__, tex)
        fallback = etree.Element("code", {"class": "math-error"})
        fallback.text = tex
        return etree.tostring(fallback, encoding="unicode")


class MathProcessor(InlineProcessor):
    def __init__(self, pattern, md, display):
        super().__init__(pattern, md)
        self.display = display

    def handleMatch(self, m, data):
        # Stashed HTML is put back after all inline processing, untouched by emphasis.
        placeholder = self.md.htmlStash.store(math_html(m.group("tex"), self.display))
        return placeholder, m.start(0), m.end(0)


class MathExtension(Extension):
    def extendMarkdown(self, md):
        md.inlinePatterns.register(MathProcessor(DISPLAY_MATH, md, display=True), "display_math", MATH_PRIORITY + 1)
        md.inlinePatterns.register(MathProcessor(INLINE_MATH, md, display=False), "inline_math", MATH_PRIORITY)


def markdown_to_html(source):
    """Unsanitized HTML straight from Markdown (see render_markdown)."""
    md = markdown.Markdown(
        extensions=[
            MathExtension(),
            "fenced_code",
            "codehilite",
            "tables",
            "sane_lists",
            "toc",
        ],
        extension_configs={
            "codehilite": {"css_class": CODE_CSS_CLASS, "guess_lang": False},
            "toc": {"permalink": False},
        },
        output_format="html",
    )
    return md.convert(source)


def sanitize(html):
    return nh3.clean(
        html,
        tags=MARKUP_TAGS | MATHML_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer",
    )


@functools.lru_cache(maxsize=64)
def render_markdown(source):
    """Safe HTML for a review body. Cached: the same text always renders the same."""
    return sanitize(markdown_to_html(source))


def split_at_live_numbers(html):
    """(before, after) around the live-numbers marker; without one the table goes last."""
    before, marker, after = html.partition(LIVE_NUMBERS_MARKER)
    return (before, after) if marker else (html, "")


def pygments_css():
    """The stylesheet committed as paper_review/static/paper_review/pygments.css."""
    header = f"/* Generated by paper_review.rendering.pygments_css() (Pygments style {PYGMENTS_STYLE}). */\n"
    return header + HtmlFormatter(style=PYGMENTS_STYLE).get_style_defs(f".{CODE_CSS_CLASS}") + "\n"
