"""Rich display in notebooks: a class asks here for its HTML and the module
that knows how to draw it (``topology``) registers the drawing, so the classes
users hold need not import the drawing code."""
from __future__ import annotations

import html
from typing import Any, Callable, Dict

_renderers: Dict[type, Callable[[Any], str]] = {}


def register(cls: type, render: Callable[[Any], str]) -> None:
    """Draw instances of ``cls`` (and its subclasses) with ``render``."""
    _renderers[cls] = render


def to_html(obj: Any) -> str:
    """The HTML of ``obj``: its registered drawing, else its repr, escaped."""
    for cls in type(obj).__mro__:
        render = _renderers.get(cls)
        if render is not None:
            return render(obj)
    return f"<pre>{html.escape(repr(obj))}</pre>"
