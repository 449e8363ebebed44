"""``python -m spikecore``: the command line (:mod:`spikecore.cli`)."""

import sys

from spikecore.cli import main

sys.exit(main())
