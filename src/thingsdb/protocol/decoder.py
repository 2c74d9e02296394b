"""A streaming package decoder: bytes in, packages out, no I/O.

The decoder checks each header (check byte, size cap) before it waits for a
payload, so a corrupt header fails at once instead of stalling the stream.
Payloads are decoded straight from a memoryview of the read buffer; the
consumed prefix is dropped once per ``feed`` (``del buf[:n]`` moves a start
offset in CPython, it does not copy the rest of the buffer).

Typed results (``client.typed(T)``) are decoded here too, for both
clients: a connection that sends a request whose payload is a
:class:`~thingsdb.protocol.typed.TypedPayload` registers its pid with
:meth:`PackageDecoder.expect`, and the answer's payload goes straight to
that type's decoder instead of the plain one. A DATA answer that does not
fit the type comes out as an ERROR package whose data is the
:class:`~thingsdb.exceptions.ResultTypeError`, so each client raises it
where it raises the node's errors (:func:`thingsdb.exceptions.error_from_answer`).
"""

from __future__ import annotations

from typing import Any

from .codec import DecodeError, decode
from .errors import ProtocolError, ResultTypeError
from .package import (
    DEFAULT_MAX_PACKAGE_SIZE,
    HEADER,
    HEADER_SIZE,
    Package,
    PackageType,
)
from .typed import ResultDecoder

_unpack_header = HEADER.unpack_from

# Package(pid, tp, data) from a tuple, without the named tuple's Python-level
# __new__ (this runs once per received package)
_new_tuple = tuple.__new__

_DATA = int(PackageType.DATA)
_ERROR = int(PackageType.ERROR)


class PackageDecoder:
    """Turns a byte stream into :class:`Package` objects.

    After a :class:`ProtocolError` the stream is out of step and the decoder
    refuses more input: the connection must be closed.
    """

    __slots__ = ("_buf", "_failed", "_max_size", "_typed")

    def __init__(self, max_package_size: int = DEFAULT_MAX_PACKAGE_SIZE) -> None:
        if max_package_size < 0:
            raise ValueError("max_package_size must not be negative")
        self._buf = bytearray()
        self._max_size = max_package_size
        self._failed = False
        #: pid -> the decoder of the type its answer is read as; an entry
        #: goes with the answer (a pid stays reserved until then)
        self._typed: dict[int, ResultDecoder[Any]] = {}

    def expect(self, pid: int, decoder: ResultDecoder[Any]) -> None:
        """Read the answer to ``pid`` with ``decoder`` (a typed request)."""
        self._typed[pid] = decoder

    def forget(self, pid: int) -> None:
        """``pid`` was given back unanswered on a connection that goes on
        (its request was never written): its next request is read as usual."""
        self._typed.pop(pid, None)

    def _typed_package(self, pid: int, tp: int, payload: memoryview) -> Package:
        """The answer to a typed request: DATA read as its type (or, when
        it does not fit, an ERROR package with the ResultTypeError); any
        other answer (an error of the node's) read as usual."""
        decoder = self._typed.pop(pid)
        if not len(payload):
            return _new_tuple(Package, (pid, tp, None))
        if tp != _DATA:
            return _new_tuple(Package, (pid, tp, decode(payload)))
        try:
            return _new_tuple(Package, (pid, tp, decoder.decode(payload)))
        except ResultTypeError as exc:
            return _new_tuple(Package, (pid, _ERROR, exc))
        except (DecodeError, UnicodeDecodeError, RecursionError):
            raise  # not MessagePack: the stream's problem, as for any answer
        except Exception as exc:  # noqa: BLE001 - the type's own code (__post_init__)
            return _new_tuple(Package, (pid, _ERROR, exc))

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a whole package."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Package]:
        """Add received bytes; return every package they complete.

        Raises :class:`ProtocolError` on a bad header or payload. Packages
        completed by ``data`` before the bad one are attached to the error as
        ``exc.packages`` so that no good answer is lost.
        """
        if self._failed:
            raise ProtocolError("the decoder failed earlier; the stream is unusable")
        buf = self._buf
        if not buf and len(data) >= HEADER_SIZE:
            # The most common read: exactly one whole, well-formed package
            # (one answer, one WebSocket message). Anything else, a payload
            # that does not decode included, takes the general path below,
            # which says what is wrong.
            size, pid, tp, check = _unpack_header(data, 0)
            if (
                size + HEADER_SIZE == len(data)
                and check == tp ^ 0xFF
                and size <= self._max_size
                and not (self._typed and pid in self._typed)
            ):
                if not size:
                    return [_new_tuple(Package, (pid, tp, None))]
                payload = (
                    data[HEADER_SIZE:]  # a view already: no copy
                    if type(data) is memoryview
                    else memoryview(data)[HEADER_SIZE:]
                )
                try:
                    return [_new_tuple(Package, (pid, tp, decode(payload)))]
                except (DecodeError, UnicodeDecodeError, RecursionError):
                    pass
        if buf:
            buf += data
            src: bytes | bytearray | memoryview = buf
        else:
            # Common case: nothing is pending, so parse the chunk in place and
            # keep only its incomplete tail.
            src = data
        packages: list[Package] = []
        # One pass over the chunk, inlined: this runs once per read, and for
        # small answers its fixed cost is most of the decoder's time.
        view = memoryview(src)
        max_size = self._max_size
        typed = self._typed
        append = packages.append
        pos = 0
        end = len(view)
        try:
            while end - pos >= HEADER_SIZE:
                size, pid, tp, check = _unpack_header(view, pos)
                if check != tp ^ 0xFF:
                    raise ProtocolError(
                        f"invalid package header: check byte {check:#04x} does "
                        f"not match type {tp:#04x}"
                    )
                if size > max_size:
                    raise ProtocolError(
                        f"package of {size} bytes exceeds the cap of "
                        f"{max_size} bytes (max_package_size)"
                    )
                start = pos + HEADER_SIZE
                stop = start + size
                if stop > end:
                    break
                if typed and pid in typed:  # a typed request's answer
                    try:
                        append(self._typed_package(pid, tp, view[start:stop]))
                    except (DecodeError, UnicodeDecodeError, RecursionError) as exc:
                        raise ProtocolError(
                            f"cannot decode the payload of package type "
                            f"{tp:#04x}, pid {pid}: {exc}",
                            payload=bytes(view[start:stop]),
                        ) from None
                elif size:
                    try:
                        append(_new_tuple(Package, (pid, tp, decode(view[start:stop]))))
                    # msgspec raises more than DecodeError for some bad input:
                    # invalid UTF-8 and nesting deeper than the recursion limit
                    except (DecodeError, UnicodeDecodeError, RecursionError) as exc:
                        raise ProtocolError(
                            f"cannot decode the payload of package type "
                            f"{tp:#04x}, pid {pid}: {exc}",
                            payload=bytes(view[start:stop]),
                        ) from None
                else:
                    append(_new_tuple(Package, (pid, tp, None)))
                pos = stop
        except ProtocolError as error:
            # buf may only be resized once no view of it is left
            view.release()
            self._failed = True
            buf.clear()
            error.packages = packages
            raise
        if src is buf:
            view.release()
            del buf[:pos]
        else:
            if pos < end:
                buf += view[pos:]
            view.release()
        return packages
