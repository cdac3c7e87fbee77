"""`python -m sg3_explorer`: the same as the `sg3-explorer` console script (library commands + gui)."""

import sys

from sg3_explorer.visualizer.cli import main

sys.exit(main())
