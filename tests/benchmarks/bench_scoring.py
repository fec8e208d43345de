"""Answer sets scored per second on one core (README, "Demo data and measured figures").

Not a test (pytest does not collect ``bench_*.py``). Run from the repository root::

    .venv/bin/python tests/benchmarks/bench_scoring.py [--count 10000] [--seed 1]

The answer sets are generated first, by the one answer generator
(``screening/demo/answers.py``): realistic sets as the demo data has them, or with
``--whole-space`` any set the form accepts, as the property tests draw them. Only
:func:`screening.scoring.score` (validation included) is timed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

# Run as a script: make the checkout importable ahead of site-packages, which
# holds an unrelated top-level ``tests`` package (shipped by textstat 0.7.8).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from screening.demo.answers import Realistic, WholeSpace, generate  # noqa: E402
from screening.scoring import (
    load_ruleset,  # noqa: E402
    score,  # noqa: E402
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--whole-space",
        action="store_true",
        help="any answer set the form accepts (as the property tests), not realistic ones",
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    rng = random.Random(args.seed)
    chooser = WholeSpace(rng.randrange) if args.whole_space else Realistic(rng)
    answer_sets = [generate(chooser) for _ in range(args.count)]
    load_ruleset()  # load and validate once, outside the timing
    outcomes: dict[str, int] = {}
    start = time.perf_counter()
    for answers in answer_sets:
        result = score(answers)
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    elapsed = time.perf_counter() - start
    print(f"scored {args.count} answer sets in {elapsed:.3f} s on one core")
    per_set = elapsed / args.count * 1e6
    print(f"{args.count / elapsed:,.0f} answer sets per second ({per_set:.1f} µs each)")
    print("outcomes:", ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))


if __name__ == "__main__":
    main()
