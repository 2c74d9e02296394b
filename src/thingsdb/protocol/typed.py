"""Typed results: an answer's payload decoded straight into a type.

``client.typed(T)`` of both clients asks for a result as ``T``: a msgspec
``Struct``, a dataclass, a ``TypedDict``, an ``Enum``, a plain type (``int``,
``str``, ``datetime``...) or lists, dicts, tuples and optionals of these.
The payload (MessagePack) goes to msgspec's typed decoder for ``T``, which
builds the objects as it reads and checks them on the way: there is no
dict made first and converted after.

Everything about it that is not I/O lives here, for both clients:

* :func:`result_decoder` makes (once per type, then from a cache) the
  decoder, and refuses at the call, with a ``TypeError``, a type msgspec
  cannot build from MessagePack (a class of its own, a union of two
  dict-like types...).
* :meth:`ResultDecoder.decode` turns msgspec's ``ValidationError`` into
  :class:`~thingsdb.exceptions.ResultTypeError`, which names the path:
  ``$[3].pages: expected int, got str``.

A thing's id comes as the key ``#``. A Struct maps it to a field of the
user's choosing with msgspec's own renaming:
``key: int | None = msgspec.field(default=None, name="#")``; a
``TypedDict`` can have the key ``"#"`` (its functional form); a dataclass
cannot rename a field, so it gets no id (or a type with a ``'#'`` field,
which the node sends under the field's own name).
"""

from __future__ import annotations

import re
from typing import Any, Generic, TypeVar, overload

import msgspec
import msgspec.inspect as _inspect

from .errors import ResultTypeError

T = TypeVar("T")

#: Decoders by type; a type that cannot be a key (unhashable metadata in
#: ``Annotated``) gets a new decoder each time. Bounded: a program that
#: makes types on the fly must not grow it for ever.
_CACHE: dict[Any, ResultDecoder[Any]] = {}
_CACHE_MAX = 512

# msgspec's message: "Expected `int`, got `str` - at `$[3].pages`"
_AT = re.compile(r"^(?P<problem>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.DOTALL)


class ResultDecoder(Generic[T]):
    """msgspec's MessagePack decoder for one type, with its errors as
    :class:`~thingsdb.exceptions.ResultTypeError`."""

    __slots__ = ("_decode", "result_type")

    def __init__(self, result_type: Any) -> None:
        check_result_type(result_type)
        #: The type asked for.
        self.result_type = result_type
        self._decode = msgspec.msgpack.Decoder(result_type).decode

    def decode(self, payload: bytes | bytearray | memoryview) -> T:
        """The payload read as the type; ResultTypeError if it does not fit."""
        try:
            return self._decode(payload)  # type: ignore[no-any-return]
        except msgspec.ValidationError as exc:
            raise result_type_error(str(exc), self.result_type) from None

    def __repr__(self) -> str:
        return f"ResultDecoder({self.result_type!r})"


class TypedPayload(bytes):
    """A request's payload that carries the decoder of its answer.

    The payload is the one thing every request path of both clients hands on
    unchanged (to the connection, into a queue, to a resend after a lost
    connection, to the next node): so the type asked for goes with it, and
    each connection, when it gives the request its pid, tells its
    :class:`~thingsdb.protocol.decoder.PackageDecoder` to
    :meth:`~thingsdb.protocol.decoder.PackageDecoder.expect` the answer.
    """

    #: the decoder of the answer's type
    decoder: ResultDecoder[Any]

    @classmethod
    def of(cls, payload: bytes, decoder: ResultDecoder[Any]) -> TypedPayload:
        typed = cls(payload)
        typed.decoder = decoder
        return typed


def result_type_error(message: str, result_type: object) -> ResultTypeError:
    """msgspec's validation message as a :class:`ResultTypeError`."""
    match = _AT.match(message)
    problem = match["problem"] if match else message
    path = (match["path"] if match else None) or "$"
    problem = problem[:1].lower() + problem[1:]
    return ResultTypeError(path, problem.replace("`", ""), result_type)


@overload
def result_decoder(result_type: type[T]) -> ResultDecoder[T]: ...
@overload
def result_decoder(result_type: Any) -> ResultDecoder[Any]: ...
def result_decoder(result_type: Any) -> ResultDecoder[Any]:
    """The decoder for ``result_type``, made once per type.

    Raises ``TypeError`` for a type that results cannot be read into. For
    mypy, a class or a generic alias (``list[Book]``) gives its type; a
    union (``Book | None``) is ``Any``, as mypy has no way to take a union
    as a value's type.
    """
    try:
        return _CACHE[result_type]
    except KeyError:
        pass
    except TypeError:  # unhashable: no cache for this one
        return ResultDecoder(result_type)
    decoder: ResultDecoder[Any] = ResultDecoder(result_type)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[result_type] = decoder
    return decoder


def check_result_type(result_type: object) -> None:
    """Raise ``TypeError`` unless results can be read into ``result_type``.

    msgspec refuses most such types itself; a class of the user's own
    (neither Struct, dataclass, attrs class, TypedDict, NamedTuple nor Enum)
    it would only refuse while decoding, as a value that "does not fit":
    that is a mistake in the program, so it is refused here.
    """
    what = "cannot read results into"
    try:
        info = _inspect.type_info(result_type)
    except TypeError as exc:
        raise TypeError(f"{what} {_name(result_type)}: {exc}") from None
    except NameError as exc:  # an annotation that names nothing
        raise TypeError(f"{what} {_name(result_type)}: {exc}") from None
    custom = _custom_type(info, set())
    if custom is not None:
        raise TypeError(
            f"{what} {_name(result_type)}: {_name(custom)} is not a type msgspec "
            "can build (use a msgspec.Struct, a dataclass, a TypedDict, an "
            "Enum, a built-in type, or lists, dicts and optionals of these)"
        )
    try:
        msgspec.msgpack.Decoder(result_type)
    except TypeError as exc:
        raise TypeError(f"{what} {_name(result_type)}: {exc}") from None


def _custom_type(info: _inspect.Type, seen: set[int]) -> type | None:
    """The first class in ``info`` that msgspec leaves to a hook, if any."""
    if id(info) in seen:
        return None
    seen.add(id(info))
    if isinstance(info, _inspect.CustomType):
        return info.cls
    children: list[_inspect.Type] = []
    if isinstance(info, _inspect.UnionType):
        children.extend(info.types)
    elif isinstance(
        info,
        (
            _inspect.ListType,
            _inspect.SetType,
            _inspect.FrozenSetType,
            _inspect.VarTupleType,
        ),
    ):
        children.append(info.item_type)
    elif isinstance(info, _inspect.TupleType):
        children.extend(info.item_types)
    elif isinstance(info, _inspect.DictType):
        children.extend((info.key_type, info.value_type))
    elif isinstance(
        info,
        (
            _inspect.StructType,
            _inspect.TypedDictType,
            _inspect.NamedTupleType,
            _inspect.DataclassType,
        ),
    ):
        children.extend(field.type for field in info.fields)
    for child in children:
        found = _custom_type(child, seen)
        if found is not None:
            return found
    return None


def _name(tp: object) -> str:
    if isinstance(tp, type):
        return (
            tp.__qualname__
            if tp.__module__ == "builtins"
            else (f"{tp.__module__}.{tp.__qualname__}")
        )
    return repr(tp)
