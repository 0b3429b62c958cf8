"""Process-wide plumbing: the event dispatcher thread, logging, exit and fork.

The C loop thread never runs Python. Log lines and messages for Python workers
are queued by it; one dispatcher thread drains that queue and runs the Python
side (logging calls, worker handlers), so a slow handler never stalls routing.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import itertools
import logging
import os
import threading
from typing import Any, Callable, Dict, Optional, Tuple

from . import _core

logger = logging.getLogger("ockam_py")
logger.addHandler(logging.NullHandler())  # a library: the application decides where lines go

Handler = Callable[[Tuple[Any, ...]], None]

_lock = threading.Lock()
_handlers: Dict[Tuple[int, str], Handler] = {}
_status_handlers: Dict[Tuple[int, str], Handler] = {}
_dispatcher: Optional[threading.Thread] = None
# token -> (event loop, future, converter of the raw result)
_pending: Dict[int, Tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[str, bytes], Any]]] = {}
_tokens = itertools.count(1)


def start_async(convert: Callable[[str, bytes], Any]) -> Tuple[int, "asyncio.Future[Any]"]:
    """A token and a future of the running event loop, settled when the call's event arrives.

    The C call completes on the loop thread and queues one event; the dispatcher
    thread hands it to the event loop with ``call_soon_threadsafe``: no thread
    per call and no polling.
    """
    loop = asyncio.get_running_loop()
    future: "asyncio.Future[Any]" = loop.create_future()
    token = next(_tokens)
    with _lock:
        _pending[token] = (loop, future, convert)
    ensure_dispatcher()
    return token, future


def forget_async(token: int) -> None:
    with _lock:
        _pending.pop(token, None)


async def await_call(start: Callable[[int], Any], convert: Callable[[str, bytes], Any]) -> Any:
    """Starts a core call with a token (``start(token)`` returns its handle) and awaits its result.

    Cancelling the awaiting task (``task.cancel()``, ``asyncio.wait_for``'s
    timeout) cancels the call in the core: a request frees its reply worker,
    a connect closes the connection it was opening, a handshake ends.
    """
    token, future = start_async(convert)
    try:
        handle = start(token)
        try:
            return await future
        except asyncio.CancelledError:
            _core.cancel(handle)
            raise
    finally:
        forget_async(token)


async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Runs a call that answers within one turn of the core's loop (no network wait)
    on the event loop's default executor, so the event loop never blocks on it."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: fn(*args, **kwargs))


def _settle(future: "asyncio.Future[Any]", code: int, text: str, payload: bytes, convert: Callable[[str, bytes], Any]) -> None:
    if future.done():  # cancelled while the call ran: nothing to do
        return
    if code:
        future.set_exception(_core.make_error(code, text))
        return
    try:
        future.set_result(convert(text, payload))
    except Exception as exc:  # a reply that cannot be decoded
        future.set_exception(exc)
_stopping = False


def register_handler(node_id: int, address: str, handler: Handler) -> None:
    """Routes message events for (node, address) to handler, on the dispatcher thread."""
    with _lock:
        _handlers[(node_id, address)] = handler
    ensure_dispatcher()


def register_status_handler(node_id: int, name: str, handler: Handler) -> None:
    """Routes status events of object ``name`` (a relay) of a node to handler."""
    with _lock:
        _status_handlers[(node_id, name)] = handler
    ensure_dispatcher()


def unregister_status_handler(node_id: int, name: str) -> None:
    with _lock:
        _status_handlers.pop((node_id, name), None)


def unregister_handler(node_id: int, address: str) -> None:
    with _lock:
        _handlers.pop((node_id, address), None)


def unregister_node(node_id: int) -> None:
    with _lock:
        for table in (_handlers, _status_handlers):
            for key in [k for k in table if k[0] == node_id]:
                del table[key]


def log_handler_failure(future: "concurrent.futures.Future[Any]", address: str) -> None:
    """Done-callback of an ``async def`` handler's run: its exception is logged as a sync one's is."""
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        logger.error("worker %r raised while handling a message", address, exc_info=exc)


def _dispatch(event: Tuple[Any, ...]) -> None:
    kind = event[0]
    if kind == "log":
        _, level, text = event
        logger.log(level, "%s", text)
    elif kind == "message":
        node_id, address = event[1], event[2]
        with _lock:
            handler = _handlers.get((node_id, address))
        if handler is None:
            logger.info("no Python handler for worker %r any more; message dropped", address)
            return
        try:
            handler(event)
        except Exception:  # a handler's bug must not stop the dispatcher
            logger.exception("worker %r raised while handling a message", address)
    elif kind == "call":
        _, token, code, text, payload = event
        with _lock:
            entry = _pending.pop(token, None)
        if entry is not None:
            loop, future, convert = entry
            try:
                loop.call_soon_threadsafe(_settle, future, code, text, payload, convert)
            except RuntimeError:  # the event loop is closed
                pass
    elif kind == "status":
        node_id, name = event[1], event[3]
        with _lock:
            handler = _status_handlers.get((node_id, name))
        if handler is not None:
            try:
                handler(event)
            except Exception:
                logger.exception("status callback of %r raised", name)


def _run() -> None:
    while not _stopping:
        event = _core.next_event(0.5)
        if event is not None:
            _dispatch(event)


def ensure_dispatcher() -> None:
    """Starts the dispatcher thread once per process (again after a fork)."""
    global _dispatcher
    with _lock:
        if _dispatcher is not None and _dispatcher.is_alive():
            return
        _dispatcher = threading.Thread(target=_run, name="ockam_py-events", daemon=True)
        _dispatcher.start()


def sync_log_level() -> None:
    """Queue only the core's log lines that the 'ockam_py' logger would emit."""
    _core.set_log_level(logger.getEffectiveLevel() or logging.INFO)


# Called at exit and in a fork()ed child: the layers above forget what they hold.
_forget_hooks: list[Callable[[], None]] = []


def on_forget(hook: Callable[[], None]) -> None:
    """Calls ``hook`` when the runtime stops (exit) or starts over (a forked child)."""
    _forget_hooks.append(hook)


def _forget() -> None:
    for hook in _forget_hooks:
        hook()


def _shutdown() -> None:
    global _stopping
    _forget()
    _core.shutdown(3.0)
    _stopping = True
    _core.interrupt_events()
    thread = _dispatcher
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout=1.0)


def _after_fork_in_child() -> None:
    global _dispatcher, _lock
    _core.after_fork_child()
    _lock = threading.Lock()
    _handlers.clear()
    _status_handlers.clear()
    _dispatcher = None
    _forget()


atexit.register(_shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
