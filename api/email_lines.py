"""An e-mail body as lines with the depth of quotation of each: `>` marks in plain text,
`<blockquote>`s in HTML, so that `email_text` reads both with one set of rules."""

from __future__ import annotations

import re

_BLOCKS = frozenset(
    re.findall(
        r"\w+",
        "address article aside blockquote dd div dl dt fieldset figure footer form h1 h2 h3 h4 "
        "h5 h6 header hr li main nav ol p pre section table tbody thead tfoot tr ul",
    )
)
_SKIP = frozenset(("head", "style", "script", "title", "meta", "template"))


def html_lines(html: str) -> list[tuple[int, str]]:
    """(quote depth, text) per line of an HTML body, blockquotes counted as quote levels."""
    import lxml.html  # at the first HTML e-mail: a worker that reads chat only never loads it

    try:
        root = lxml.html.document_fromstring(html)
    except Exception:  # lxml's own errors, or an empty document
        return []
    lines: list[tuple[int, str]] = []
    current: list[str] = []
    depth_of_current = [0]

    def flush() -> None:
        text = "".join(current).replace("\xa0", " ").strip()
        lines.append((depth_of_current[0], text))
        current.clear()

    def walk(element, depth: int) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _SKIP or ("signature" in (element.get("class") or "") and tag):
            return  # Gmail's, Thunderbird's (moz-signature) and others' signature blocks
        if tag == "pre":  # preformatted: its own line breaks, as written
            if current:
                flush()
            for line in element.text_content().split("\n"):
                current.append(line)
                depth_of_current[0] = depth
                flush()
            return
        block = tag in _BLOCKS
        inner = depth + 1 if tag == "blockquote" else depth
        if block and current:
            flush()
        if tag == "br":
            depth_of_current[0] = depth
            flush()
        if element.text and tag:
            if not current:
                depth_of_current[0] = inner
            current.append(re.sub(r"\s+", " ", element.text))
        for child in element:
            walk(child, inner)
            if child.tail:
                if not current:
                    depth_of_current[0] = inner
                current.append(re.sub(r"\s+", " ", child.tail))
        if block and current:
            flush()

    walk(root, 0)
    if current:
        flush()
    return lines


_QUOTE_MARKS = re.compile(r"^(\s*[A-ZА-ЯЁ]{0,3}>\s?)+")


def plain_lines(text: str) -> list[tuple[int, str]]:
    """(quote depth, text) per line of a plain-text body: `>` markers counted and removed,
    with The Bat!'s initials before them («СП>»)."""
    out = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        marks = _QUOTE_MARKS.match(line)
        depth = marks[0].count(">") if marks else 0
        out.append((depth, (line[marks.end() :] if marks else line).replace("\xa0", " ").rstrip()))
    return out
