"""Explanations: why an output has its value, in the terms of the law.

For an output, the explanation names the rule that decided it (provision id and title,
legal source), the version used (its window, the act that made it), the reference date
that selected that version, the condition and the fact values it read, the exceptions
that were tried (and whether they applied), and, recursively, the outputs of other rules
it relied on. It is built after the evaluation from the evaluation's memo, so the hot
path pays nothing for it; rules the evaluation did not need are evaluated on demand.
Such a rule may fail where the evaluation never went (a date past 9999-12-31): it is
shown as "cannot be evaluated" with the reason, so that an evaluation that answered is
explained, never turned into an error by its explanation.

:func:`render_text` writes it for a caseworker; :meth:`Explanation.to_json` for a program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import EvaluationError
from engine.evaluation.general import Evaluation
from engine.sources.asof import withdrawn
from engine.evaluation.plan import Branch
from engine.language.semantics import kind_of_name
from engine.values import Unknown, render, to_json


@dataclass
class RuleStep:
    """One rule as it stood in the evaluation."""

    rule: str
    title: str
    source: dict[str, str]
    outcome: str  # "applied", "did not apply", "unknown", "not in force"
    reference_date: str
    reference_value: Any
    version: int | None = None  # 1-based position in the rule's time line
    versions: int = 0
    window: dict[str, Any] | None = None
    version_source: dict[str, str] | None = None
    amendment: str = ""
    condition: str = ""
    expression: str = ""  # the expression that computed the value, if computed
    facts: dict[str, Any] = field(default_factory=dict)
    read_as_none: dict[str, str] = field(default_factory=dict)  # fact -> why, as of the evaluation date
    uses: list["Explanation"] = field(default_factory=list)
    exceptions: list["RuleStep"] = field(default_factory=list)
    order: int = 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule, "title": self.title, "source": self.source, "outcome": self.outcome,
            "reference_date": {"expression": self.reference_date, "value": to_json(_plain(self.reference_value))},
        }
        if self.version is not None:
            data["version"] = {"number": self.version, "of": self.versions, "window": self.window,
                               "source": self.version_source, "amendment": self.amendment or None}
        if self.condition:
            data["condition"] = self.condition
        if self.expression:
            data["expression"] = self.expression
        data["facts"] = {name: _fact_json(value) for name, value in sorted(self.facts.items())}
        if self.read_as_none:
            data["read_as_none"] = dict(sorted(self.read_as_none.items()))
        data["uses"] = [u.to_json() for u in self.uses]
        data["exceptions"] = [e.to_json() for e in self.exceptions]
        return data


@dataclass
class Explanation:
    output: str
    status: str
    value: Any
    missing: tuple[str, ...] = ()
    decided_by: RuleStep | None = None
    considered: list[RuleStep] = field(default_factory=list)  # rules at the top that did not decide
    repeated: bool = False  # explained earlier in the same tree
    rule: str | None = None  # the rule whose value decided the output
    agreed: bool = False  # decided although facts are missing: every possibility agrees
    chain: list[str] = field(default_factory=list)  # the rules it overrides, outermost first

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"output": self.output, "status": self.status}
        if self.status == "decided":
            data["value"] = to_json(self.value)
        if self.missing:
            data["missing"] = list(self.missing)
        if self.repeated:
            data["see_above"] = True
            return data
        data["rule"] = self.rule
        data["overrides"] = self.chain
        if self.agreed:
            data["agreed"] = True
        data["decided_by"] = self.decided_by.to_json() if self.decided_by else None
        data["considered"] = [step.to_json() for step in self.considered]
        return data

    def render_text(self) -> str:
        """The derivation as text, as ``decree explain`` prints it."""
        return render_text(self)


def _plain(value: Any) -> Any:
    return None if type(value) is Unknown else value


def _fact_json(value: Any) -> Any:
    """A fact's value in JSON; an unknown fact is ``{"unknown": true}``, not ``null``
    (``null`` is a fact given as known to have no value)."""
    return {"unknown": True} if type(value) is Unknown else to_json(value)


def explain(result: Any, output: str) -> Explanation:
    """The explanation of ``output`` in an evaluation result."""
    return _Explainer(result.evaluation).output(output, set(), depth=0)


def explain_all(result: Any) -> list[Explanation]:
    """Explanations of every output of a result; what one explains, the next refers to."""
    explainer = _Explainer(result.evaluation)
    seen: set[str] = set()
    return [explainer.output(name, seen, depth=0) for name in result.decisions]


class _Explainer:
    MAX_DEPTH = 6

    def __init__(self, evaluation: Evaluation) -> None:
        self.evaluation = evaluation

    def output(self, name: str, seen: set[str], depth: int) -> Explanation:
        evaluation = self.evaluation
        value = evaluation.value_of(name)
        if type(value) is Unknown:
            status, missing = "unknown", tuple(sorted(value.missing))
        elif value is None:
            status, missing = "not_applicable", ()
        else:
            status, missing = "decided", ()
        explanation = Explanation(name, status, None if status != "decided" else value, missing)
        if name in seen or depth > self.MAX_DEPTH:
            explanation.repeated = True
            return explanation
        seen.add(name)
        plan = evaluation.plan.outputs.get(name)
        if plan is None:
            return explanation
        deciding = evaluation.decider(name) if status == "decided" else None
        explanation.agreed = status == "decided" and deciding is None
        for group in plan.groups:
            for branch in group:
                step = self.rule(branch, name, seen, depth)
                if deciding is not None and self._contains(step, deciding):
                    explanation.decided_by = step
                    explanation.rule = deciding
                    explanation.chain = self._chain(step, deciding)
                else:
                    explanation.considered.append(step)
        return explanation

    def _chain(self, step: RuleStep, rule_id: str) -> list[str]:
        if step.rule == rule_id:
            return []
        for exception in step.exceptions:
            if self._contains(exception, rule_id):
                return [step.rule] + self._chain(exception, rule_id)
        return []

    def _contains(self, step: RuleStep, rule_id: str) -> bool:
        return step.rule == rule_id or any(self._contains(e, rule_id) for e in step.exceptions)

    def rule(self, branch: Branch, output: str, seen: set[str], depth: int) -> RuleStep:
        evaluation = self.evaluation
        try:
            state = evaluation.state(branch.rule.id)
        except EvaluationError as problem:  # a rule the evaluation did not need (see the module's doc)
            return self._unevaluable(branch, output, problem, seen, depth)
        rule = state.rule
        if state.version is None:
            outcome = "unknown" if type(state.applies) is Unknown else "not in force"
        else:
            outcome = {True: "applied", False: "did not apply"}.get(state.applies, "unknown")
        step = RuleStep(rule.id, rule.title, rule.source.to_json(), outcome, rule.reference_text, state.reference,
                        order=rule.order)
        versions = [v.version for v in branch.rule.versions]
        step.versions = len(versions)
        version = state.version
        if version is not None:
            step.version = versions.index(version) + 1
            step.window = version.window.to_json() if version.window else None
            step.version_source = version.source.to_json() if version.source else None
            step.amendment = version.amendment
            if version.when is not None:
                step.condition = version.when.text.strip()
            if output in version.computed:
                step.expression = version.computed[output].text.strip()
            names: set[str] = set()
            for expression in version.expressions() + ([rule.reference_date] if rule.reference_date else []):
                names |= expression.free_names
            for name in sorted(names):
                kind = kind_of_name(name)
                if kind == "fact":
                    step.facts[name] = evaluation.facts.get(name, Unknown(frozenset({name})))
                elif kind == "output":
                    try:
                        step.uses.append(self.output(name, seen, depth + 1))
                    except EvaluationError:
                        pass  # not needed by this rule's outcome (else state() would have failed)
        elif rule.reference_date is not None:
            for name in sorted(rule.reference_date.free_names):
                if kind_of_name(name) == "fact":
                    step.facts[name] = evaluation.facts.get(name, Unknown(frozenset({name})))
        later = withdrawn(evaluation.facts)
        step.read_as_none = {name: later[name] for name in step.facts if name in later}
        for group in branch.exceptions:
            for child in group:
                step.exceptions.append(self.rule(child, output, seen, depth))
        return step


    def _unevaluable(self, branch: Branch, output: str, problem: EvaluationError, seen: set[str],
                     depth: int) -> RuleStep:
        rule = branch.rule.rule
        step = RuleStep(rule.id, rule.title, rule.source.to_json(),
                        f"cannot be evaluated: {problem.message} ({problem.span})", rule.reference_text, None,
                        order=rule.order)
        for group in branch.exceptions:
            for child in group:
                step.exceptions.append(self.rule(child, output, seen, depth))
        return step


def render_text(explanation: Explanation, indent: str = "") -> str:
    """The explanation as indented text for a caseworker."""
    lines: list[str] = []
    _render_output(explanation, indent, lines)
    return "\n".join(lines) + "\n"


def _value_text(explanation: Explanation) -> str:
    if explanation.status == "unknown":
        return f"unknown (missing: {', '.join(explanation.missing) or 'nothing named'})"
    if explanation.status == "not_applicable":
        return "not applicable"
    return render(explanation.value)


def _render_output(explanation: Explanation, indent: str, lines: list[str]) -> None:
    lines.append(f"{indent}{explanation.output} = {_value_text(explanation)}")
    if explanation.repeated:
        lines[-1] += "  (explained above)"
        return
    if explanation.agreed:
        lines.append(f"{indent}  decided although some facts are missing: every rule that may apply gives this value")
    if explanation.decided_by is not None:
        if explanation.chain:
            overrides = " and ".join(f"'{r}'" for r in reversed(explanation.chain))
            lines.append(f"{indent}  decided by '{explanation.rule}', an exception that overrides {overrides}:")
        else:
            lines.append(f"{indent}  decided by:")
        _render_step(explanation.decided_by, indent + "    ", lines,
                     deciding=explanation.rule if explanation.chain else None)
    # rules not in force explain an output that is not applicable or unknown; next to a
    # decided value they are noise
    considered = [s for s in explanation.considered
                  if s.outcome != "not in force" or explanation.status != "decided"]
    if considered:
        lines.append(f"{indent}  also considered:")
        for step in considered:
            _render_step(step, indent + "    ", lines, brief=True)


def _render_step(step: RuleStep, indent: str, lines: list[str], brief: bool = False,
                 deciding: str | None = None) -> None:
    source = step.source
    cite = source.get("instrument", "") + (f", {source['article']}" if source.get("article") else "")
    marker = "  <- decides" if deciding == step.rule else ""
    lines.append(f"{indent}{step.rule}: {step.title} [{step.outcome}]{marker}")
    lines.append(f"{indent}  source: {cite}" + (f" ({source['document']})" if source.get("document") else ""))
    ref = render(step.reference_value) if step.reference_value is not None else "none"
    if step.version is not None and step.window:
        until = step.window["until"] or "..."
        lines.append(f"{indent}  version {step.version} of {step.versions}, in force [{step.window['from']}, "
                     f"{until}), chosen by {step.reference_date} = {ref}")
        if step.amendment or step.version_source:
            act = step.version_source.get("instrument") if step.version_source else ""
            lines.append(f"{indent}  version made by: {step.amendment or ''}{' - ' if step.amendment and act else ''}"
                         f"{act or ''}")
    elif type(step.reference_value) is Unknown:
        lines.append(f"{indent}  which version applies is unknown: {step.reference_date} is unknown")
    elif step.outcome.startswith("cannot"):
        pass  # the outcome says why
    else:
        lines.append(f"{indent}  no version in force on {step.reference_date} = {ref}")
    if step.condition:
        lines.append(f"{indent}  when: {' '.join(step.condition.split())}")
    if step.expression:
        lines.append(f"{indent}  value: {' '.join(step.expression.split())}")
    if step.facts:
        shown = ", ".join(f"{name} = {render(value)}" for name, value in step.facts.items())
        lines.append(f"{indent}  facts: {shown}")
    for name, why in step.read_as_none.items():
        lines.append(f"{indent}  {name} read as none: {why}")
    if not brief:
        for used in step.uses:
            _render_output(used, indent + "  ", lines)
    for exception in step.exceptions:
        if exception.outcome == "not in force":
            continue
        lines.append(f"{indent}  exception{f' (order {exception.order})' if exception.order else ''}:")
        _render_step(exception, indent + "    ", lines, brief=exception.rule != deciding, deciding=deciding)



def render_summary(explanation: Explanation) -> str:
    """A few lines per output: the deciding rule, its source, version and reference date."""
    lines = [f"{explanation.output} = {_value_text(explanation)}"]
    step = explanation.decided_by
    if step is not None and explanation.rule and explanation.rule != step.rule:
        step = _find(step, explanation.rule) or step
    if step is None:
        if explanation.status == "not_applicable":
            lines.append("  no rule applies to this person")
        return "\n".join(lines) + "\n"
    source = step.source
    cite = source.get("instrument", "") + (f", {source['article']}" if source.get("article") else "")
    lines.append(f"  by {step.rule}: {step.title}")
    if explanation.chain:
        lines.append(f"  an exception overriding {', '.join(reversed(explanation.chain))}")
    lines.append(f"  source: {cite}" + (f" ({source['document']})" if source.get("document") else ""))
    if step.version is not None and step.window:
        ref = render(step.reference_value) if step.reference_value is not None else "none"
        lines.append(f"  version {step.version} of {step.versions} [{step.window['from']}, "
                     f"{step.window['until'] or '...'}), chosen by {step.reference_date} = {ref}"
                     + (f", made by {step.amendment}" if step.amendment else ""))
    if step.condition:
        lines.append(f"  when: {' '.join(step.condition.split())}")
    if step.expression:
        lines.append(f"  value: {' '.join(step.expression.split())}")
    used = [f"{name} = {render(value)}" + (" (read as of the evaluation date)" if name in step.read_as_none else "")
            for name, value in step.facts.items()]
    used += [f"{u.output} = {_value_text(u)}" for u in step.uses]
    if used:
        lines.append(f"  using: {', '.join(used)}")
    return "\n".join(lines) + "\n"


def _find(step: RuleStep, rule_id: str) -> RuleStep | None:
    if step.rule == rule_id:
        return step
    for exception in step.exceptions:
        found = _find(exception, rule_id)
        if found is not None:
            return found
    return None
