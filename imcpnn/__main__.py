"""``python -m imcpnn`` and the ``imcpnn`` console script: ``imcpnn train ...`` (:mod:`imcpnn.cli`) or
``imcpnn sweep ...`` (:mod:`imcpnn.sweep`, the same flags with comma-separated lists)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sweep"]:
        from imcpnn.sweep import main as sweep_main

        return sweep_main(argv[1:])
    from imcpnn.cli import main as train_main

    return train_main(argv)


if __name__ == "__main__":
    sys.exit(main())
