"""Print the Python that decides an output, as the engine generates and runs it.

    python -m tools.codegen status                       # rules/, no proposals
    python -m tools.codegen vrijstelling --rules tests/rulesets/exceptions
    python -m tools.codegen status --proposal arbeidsmigranten

Like Jinja's ``Environment.compile(raw=True)``: the first line imports the runtime names
the code may use (engine.evaluation.runtime.exported), comments list the objects bound
to generated names (``k12``), then the function ``decide(ev)`` follows. Outputs that it
reads are decided by functions of their own: print those by their names.
"""

from __future__ import annotations

import argparse
import sys

from engine.errors import PolicyError
from engine.evaluation.codegen import generated_source
from engine.ruleset import RuleSet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.codegen", description=__doc__.splitlines()[0])
    parser.add_argument("output", help="the output whose function to print")
    parser.add_argument("--rules", default="rules", help="the rule set (default: rules)")
    parser.add_argument("--proposal", action="append", default=[], metavar="NAME",
                        help="switch a proposal on (on its assumed date); may be repeated")
    arguments = parser.parse_args(argv)
    try:
        ruleset = RuleSet.load(arguments.rules)
        proposals = {name: None for name in arguments.proposal}
        ruleset.check_proposals(proposals)
        plan = ruleset.plan(proposals)
    except PolicyError as error:
        print(error.render(), file=sys.stderr)
        return 1
    if arguments.output not in ruleset.vocabulary or ruleset.vocabulary.names[arguments.output].kind != "output":
        print(f"error: unknown output '{arguments.output}'; outputs: {', '.join(sorted(plan.outputs))}",
              file=sys.stderr)
        return 2
    print(generated_source(plan, arguments.output), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
