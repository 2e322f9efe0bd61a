"""What the page says in words: the ethics notice, one short sentence for any error, and
values made safe to echo.

The details of an error belong in the server log; the user gets :func:`user_message`, which
names no file and shows no traceback. Streamlit renders alerts, captions, headings and table
cells as Markdown, so every value the page echoes from outside (a shared link's query, a
model id, a catalog's text) goes through :func:`escape_markdown` first: a link such as
``?model=[Session expired](https://evil.example/login)`` shows as the text it is, never as a
link or an image the browser would fetch.
"""

from __future__ import annotations

import re

from medgan_utils.appkit.request import InvalidRequest

__all__ = ["ETHICS", "WORD_JOINER", "escape_markdown", "user_message"]

ETHICS = (
    "Every image this app generates is **synthetic**: made by a GAN, not taken from a patient. "
    "The files you download say so in their names and PNG metadata. For teaching and method "
    "development only, never for diagnosis; check the model card and the memorization view "
    "before you use the images anywhere."
)

# The characters that start a Markdown construct able to link, embed, run markup or change
# the page: links and images ([), HTML and autolinks (<), Streamlit's `:red[...]` and
# `:material/...:` directives and `:emoji:` codes (:), maths ($), entities (&), and emphasis,
# code, tables and headings. CommonMark lets a backslash escape any ASCII punctuation, so
# escaped they show as themselves. Punctuation that starts nothing on its own
# (`. , - ( ) / ! ' "`) is left as typed, so ids, numbers and file names stay readable; `_`
# is escaped only where it could open or close emphasis (intraword it cannot).
_SPECIAL = re.compile(r"[\\`*\[\]<>:$@&~|#{}^]|(?<![^\W_])_|_(?![^\W_])")
# GFM's autolink literals (`https://...`, `www....`, `name@host.org`) are found in the text
# once the escapes are resolved, so no backslash stops them; an invisible word joiner inside
# `://`, after `www` and after `@` does. No maintained library escapes Streamlit's Markdown
# dialect, hence these two rules here.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def escape_markdown(value: object, limit: int = 200) -> str:
    r"""``value`` as text that Markdown shows as typed, on one line, at most ``limit``
    characters of it (longer values end with ``...``), with no link, image, markup or
    automatic link in it.

    Example:
        >>> escape_markdown("[Session expired](https://evil.example/login)").replace(
        ...     WORD_JOINER, "<WJ>"
        ... )
        '\\[Session expired\\](https\\:<WJ>//evil.example/login)'
        >>> print(escape_markdown("class no_lesion, truncation 1.0"))
        class no_lesion, truncation 1.0
    """
    text = " ".join(str(value).split())  # a newline could start a heading, list or table
    if len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    text = _AUTOLINK.sub(WORD_JOINER, text)
    return _SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def user_message(err: BaseException, model_id: str = "the model") -> str:
    """One short sentence for the user, safe to show as Markdown; the details belong in the
    server log."""
    from medgan_utils.errors import (
        MissingDependenciesError,
        ModelNotAvailableError,
        PackageIntegrityError,
        UntrustedCodeError,
    )

    name = escape_markdown(model_id, 100)
    if isinstance(err, InvalidRequest):
        return f"Not generated: {escape_markdown(err, 300)}."
    if isinstance(err, ModelNotAvailableError):
        return (
            f"{name} is not on this server yet and cannot be downloaded now: the network is "
            "unreachable (or downloads are off). medigan's models download on first use; try "
            "again when the server is online, or pick one of the shipped models."
        )
    if isinstance(err, MissingDependenciesError):
        reason = escape_markdown(err.reason, 300)
        return f"{name} needs Python packages this server does not have ({reason})."
    if isinstance(err, UntrustedCodeError):
        return (
            f"{name} is not from medigan's official catalog, so this server does not run its "
            "downloaded code (its operator can allow it with `MEDGAN_ALLOW_UNOFFICIAL_CODE=1`)."
        )
    if isinstance(err, PackageIntegrityError):
        return f"{name} failed its integrity check, so it was not run."
    return f"Could not generate with {name}. The server log has the details."
