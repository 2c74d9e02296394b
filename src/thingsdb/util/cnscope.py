"""``cnscope(scope)``: the collection name of a collection scope
(python-thingsdb's name for :func:`thingsdb.protocol.collection_name`)."""

from ..protocol.grammar import collection_name as cnscope

__all__ = ["cnscope"]
