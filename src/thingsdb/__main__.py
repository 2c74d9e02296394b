"""``python -m thingsdb``: the same as ``thingsdb-cli``."""

import sys

from .cli import main

sys.exit(main())
