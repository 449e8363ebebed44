"""``python -m spikecore``: the command line (:mod:`spikecore.app.cli`)."""

import sys

from spikecore.app.cli import main

sys.exit(main())
