"""Every benchmark program in turn: ``python -m bench [--quick]``."""

from __future__ import annotations

import sys

from . import blocking, codec, httpapi, inflight, longrun, requests, telemetry, typed


def main() -> None:
    argv = sys.argv[1:]
    for program in (
        requests,
        inflight,
        blocking,
        httpapi,
        telemetry,
        typed,
        longrun,
        codec,
    ):
        print(f"\n## python -m {program.__name__}\n", flush=True)
        program.main(argv)


if __name__ == "__main__":
    main()
