"""The ``fivelens`` command (installed with the package; the same command ships with npm)."""

from __future__ import annotations

import sys

from . import _native


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = int(_native.cli_main(args))
    except KeyboardInterrupt:
        return 130
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
