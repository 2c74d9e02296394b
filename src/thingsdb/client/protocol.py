"""``thingsdb.client.protocol``, as python-thingsdb code imports it: the
package types (``Proto``). The stream protocol itself lives in
:mod:`thingsdb.transport` and is not meant to be used directly."""

from .baseprotocol import Proto

__all__ = ["Proto"]
