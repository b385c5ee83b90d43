"""``python -m toolkit``: the command-line interface."""

from toolkit.cli import main

raise SystemExit(main())
