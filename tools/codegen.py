"""Print the Python that decides an output, as the engine generates and runs it.

    python -m tools.codegen status                       # rules/, no proposals
    python -m tools.codegen vrijstelling --rules tests/rulesets/exceptions
    python -m tools.codegen status --proposal arbeidsmigranten
    python -m tools.codegen --person                     # every public output of a person at once
    python -m tools.codegen --person status regime
    python -m tools.codegen --person --carry             # the same, carrying unknowns

Like Jinja's ``Environment.compile(raw=True)``: the first line imports the runtime names
the code may use (engine.evaluation.runtime.exported), comments list the objects bound
to generated names (``k12``), then the function ``decide(ev)`` follows. Outputs that it
reads are decided by functions of their own: print those by their names. With
``--person``, the one function ``decide_all(ev)`` that decides the outputs named (default:
every public output) at once for a person with every value known; with ``--carry`` as
well, the one that decides them when facts are missing, carrying unknowns.
"""

from __future__ import annotations

import argparse
import sys

from engine.errors import PolicyError
from engine.evaluation.codegen import generated_person_source, generated_source
from engine.ruleset import RuleSet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.codegen", description=__doc__.splitlines()[0])
    parser.add_argument("outputs", nargs="*", metavar="output", help="the output whose function to print")
    parser.add_argument("--person", action="store_true",
                        help="print the function that decides these outputs (default: all public) at once")
    parser.add_argument("--carry", action="store_true",
                        help="with --person: the function that carries unknowns (facts missing)")
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
    outputs = arguments.outputs or (ruleset.public_outputs if arguments.person else [])
    if arguments.carry and not arguments.person:
        parser.error("--carry prints a person's function: add --person")
    if len(outputs) != 1 and not arguments.person:
        parser.error("name one output (or several with --person)")
    for output in outputs:
        if output not in ruleset.vocabulary or ruleset.vocabulary.names[output].kind != "output":
            print(f"error: unknown output '{output}'; outputs: {', '.join(sorted(plan.outputs))}", file=sys.stderr)
            return 2
    if arguments.person:
        print(generated_person_source(plan, tuple(outputs), carry=arguments.carry), end="")
    else:
        print(generated_source(plan, outputs[0]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
