"""One mixin for the handles that close: ``with`` and ``async with`` both close them."""

from __future__ import annotations

from typing import TypeVar

from . import _runtime

_C = TypeVar("_C", bound="Closing")


class Closing:
    """``close()`` is the subclass's; ``aclose()`` runs it off the event loop; leaving a
    ``with`` or ``async with`` block calls them."""

    def close(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        """:meth:`close` for asyncio."""
        await _runtime.in_thread(self.close)

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self: _C) -> _C:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
