"""SVG and HTML text: escaping, and the few shapes the pictures are drawn with (numbers rounded for stable bytes)."""

from __future__ import annotations

import re
from html import escape as _escape

_SPECIAL = re.compile(r"[&<>\"']")
_NAMES: dict[str, str] = {}


def esc(text: object) -> str:
    """Text or an attribute value, safe inside HTML and SVG."""
    text = str(text)
    return _escape(text, quote=True) if _SPECIAL.search(text) else text


def num(value: float) -> str:
    """A coordinate with at most one decimal, so that float noise never changes the bytes."""
    shown = f"{value:.1f}"
    if shown.endswith(".0"):
        shown = shown[:-2]
    return "0" if shown == "-0" else shown


def _attribute(key: str) -> str:
    return "class" if key == "class_" else key.rstrip("_").replace("_", "-")


def attrs(**values: object) -> str:
    """` key="value"` pairs; `class_` is `class`, other underscores become dashes; None is left out."""
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        name = _NAMES.get(key) or _NAMES.setdefault(key, _attribute(key))
        if isinstance(value, float):
            shown = num(value)
        elif isinstance(value, int):
            shown = str(value)
        else:
            shown = esc(value)
        parts.append(f' {name}="{shown}"')
    return "".join(parts)


def rect(x: float, y: float, width: float, height: float, **extra: object) -> str:
    return f"<rect{attrs(x=float(x), y=float(y), width=float(width), height=float(height), **extra)}/>"


def text(x: float, y: float, content: str, **extra: object) -> str:
    return f"<text{attrs(x=float(x), y=float(y), **extra)}>{esc(content)}</text>"


def line(x1: float, y1: float, x2: float, y2: float, **extra: object) -> str:
    return f"<line{attrs(x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), **extra)}/>"


def polyline(points: tuple[tuple[float, float], ...], **extra: object) -> str:
    joined = " ".join(f"{num(x)},{num(y)}" for x, y in points)
    return f"<polyline{attrs(points=joined, **extra)}/>"


def title(content: str) -> str:
    """A tooltip: the browser shows it on hover; screen readers read it."""
    return f"<title>{esc(content)}</title>"


def document(width: float, height: float, body: list[str], label: str, class_: str) -> str:
    """A complete inline SVG that scales to the page width and keeps its proportions."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg"{attrs(class_=class_, viewBox=f"0 0 {num(width)} {num(height)}", width=float(width), height=float(height), role="img")}'
            f' aria-label="{esc(label)}">\n' + "\n".join(body) + "\n</svg>")


def text_width(content: str, size: float = 12.0) -> float:
    """About how wide the sans-serif text is: enough to size boxes without measuring fonts."""
    return len(content) * size * 0.6
