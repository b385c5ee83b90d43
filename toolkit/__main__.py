"""``python -m toolkit``: the command-line interface."""

import os
import sys

from toolkit.cli import EXIT_INTERRUPTED, main

status = main()
if status == EXIT_INTERRUPTED:
    # Everything the run had to undo is undone by now; a render thread still waiting on a kernel that was
    # shut down must not hold the exit up (the interpreter would wait for it).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
raise SystemExit(status)
