"""``python -m thingsdb.migrate``: the ``migrate`` command."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:], prog="python -m thingsdb.migrate"))
