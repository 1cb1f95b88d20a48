"""``python -m engine``: the ``papertrader`` command line (see :mod:`engine.cli`)."""

from engine.cli import main

raise SystemExit(main())
