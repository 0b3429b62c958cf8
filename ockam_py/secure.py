"""Identities and secure channels (Ockam's Noise XX channels, run by the C core)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from . import _core
from ._closing import Closing

if TYPE_CHECKING:
    from .node import Node


class Identity:
    """An Ockam identity: an Ed25519 key and the change history it signs.

    ``identifier`` is ``I`` + 64 hex digits, as Ockam prints it. Give one to
    ``Node(..., identity=...)`` to keep a node's identifier across runs.
    """

    def __init__(self, secret: bytes, change_history: bytes) -> None:
        self.identifier = _core.identity_check(bytes(secret), bytes(change_history))
        self._secret = bytes(secret)
        self.change_history = bytes(change_history)

    @classmethod
    def create(cls) -> "Identity":
        """A new identity with a new Ed25519 key (valid 10 years, as Ockam's)."""
        _identifier, secret, history = _core.identity_create()
        return cls(secret, history)

    @classmethod
    def from_file(cls, path: "str | os.PathLike[str]") -> "Identity":
        """Reads an identity written by :meth:`save`."""
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return cls(bytes.fromhex(data["secret"]), bytes.fromhex(data["change_history"]))

    def save(self, path: "str | os.PathLike[str]") -> None:
        """Writes the identity, secret included, to a file only its owner can read (0600)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(
                {"identifier": self.identifier, "secret": self._secret.hex(), "change_history": self.change_history.hex()},
                f,
            )

    @property
    def secret(self) -> bytes:
        """The 32-byte Ed25519 secret (the seed Ockam's vault stores)."""
        return self._secret

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and other.identifier == self.identifier

    def __hash__(self) -> int:
        return hash(self.identifier)

    def __repr__(self) -> str:
        return f"<Identity {self.identifier}>"


@dataclass
class SecureChannel(Closing):
    """A secure channel of a node. Route through it with ``address``
    (``/service/<32 hex>``, its encryptor): ``f"{channel.address}/service/echo"``.
    A context manager (``with`` and ``async with``): leaving it closes the channel.
    """

    node: "Node" = field(repr=False)
    encryptor: str
    their_identifier: str
    initiator: bool = True
    decryptor: str = ""
    listener: Optional[str] = None
    to: Optional[str] = None  # the route it was opened to, as written (initiator)

    @property
    def address(self) -> str:
        return f"/service/{self.encryptor}"

    @property
    def closed(self) -> bool:
        """True once the channel is no longer open on its node."""
        return self.node.closed or all(c.encryptor != self.encryptor for c in self.node.secure_channels())



    def close(self) -> None:
        """Closes the channel and tells the peer (Close); closing twice is fine."""
        if self.node.closed:
            return
        try:
            _core.sc_close(self.node.id, "channel", self.encryptor)
        except LookupError:
            pass

    def __str__(self) -> str:
        return self.address

    def __repr__(self) -> str:
        way = f"to {self.to} ({self.their_identifier})" if self.to else ("to " if self.initiator else "from ") + self.their_identifier
        return f"<SecureChannel {self.address} of {self.node.name!r} {way}>"


@dataclass(frozen=True)
class SecureChannelListener:
    """A node's secure channel listener at ``/service/<address>``; ``authorized``
    is ``None`` when it trusts everyone."""

    node: "Node" = field(repr=False, compare=False)
    address: str
    authorized: Optional[tuple[str, ...]] = None

    def stop(self) -> None:
        """Stops listening; channels it opened stay open."""
        if not self.node.closed:
            _core.sc_close(self.node.id, "listener", self.address)

    def __repr__(self) -> str:
        who = "everyone" if self.authorized is None else f"{len(self.authorized)} authorized"
        return f"<SecureChannelListener /service/{self.address} of {self.node.name!r}: {who}>"
