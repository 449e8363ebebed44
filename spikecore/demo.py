"""``make sim``: run SpikeCore end to end and print what happened.

For now it assembles the bundled example ``examples/graded_mlp.s`` and runs it on the golden model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spikecore.compiler.asm import assemble
from spikecore.errors import SpikeCoreError
from spikecore.golden.run import run
from spikecore.golden.stimulus import Stimulus
from spikecore.golden.summary import summarize

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make sim", description=__doc__)
    parser.add_argument("--example", default="graded_mlp", help="example name in examples/ (default graded_mlp)")
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        source = EXAMPLES / f"{args.example}.s"
        image = assemble(source.read_text(), name=source.name)
        stimulus_path = EXAMPLES / f"{args.example}.stim.csv"
        stimulus = Stimulus.load(stimulus_path) if stimulus_path.exists() else None
        result = run(image, stimulus, steps=args.steps)
    except (SpikeCoreError, OSError) as error:
        print(f"make sim: error: {error}", file=sys.stderr)
        return 2
    print(f"{source.relative_to(EXAMPLES.parent)} on the golden model ({image.config.describe()})")
    print(summarize(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
