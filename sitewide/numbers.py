"""Whole numbers typed by people or sent by clients."""

# The largest primary key every supported database stores (signed 64-bit):
# a larger id in a URL or a body names nothing, and SQLite refuses to compare it.
MAX_ID = 2**63 - 1


def whole_number(text, max_digits=9):
    """``text`` as an int when it is only ASCII digits (at most ``max_digits``), else None.

    ``str.isdigit`` also accepts "²" and other digits ``int`` refuses, and a
    number thousands of digits long is slow to convert; neither reaches ``int`` here.
    """
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)
