"""The impact of an amendment rendered for people: a rich table, or an HTML page.

The HTML page is self-contained (inline CSS and SVG, no script, no font or image from a
network), so it can be mailed or opened offline: per output, a bar per transition,
its length proportional to the number of persons, with the count and example ids.
"""

from __future__ import annotations

import html
import json
from typing import Any

from engine.population.impact import Impact, Transition

SHOWN = 8  # transitions shown per output in text and HTML (JSON has them all)


def shown(transitions: list[Transition]) -> tuple[list[Transition], int, int]:
    """The largest transitions, and how many more there are and of how many persons
    (a deadline output moves to a different date for nearly every person)."""
    rest = transitions[SHOWN:]
    return transitions[:SHOWN], len(rest), sum(t.count for t in rest)


def state_text(state: Any) -> str:
    if state is None:
        return "not applicable"
    if isinstance(state, dict) and state.get("unknown") is True:
        return "unknown"
    return json.dumps(state, ensure_ascii=False)


def render_text(impact: Impact) -> str:
    """A summary line and a table of transitions per output (rich, plain when piped)."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    buffer = StringIO()
    console = Console(file=buffer, width=150, color_system=None)
    proposals = ", ".join(f"{k}={v}" for k, v in impact.variant["proposals"].items()) or "none"
    console.print(f"Impact on {impact.on.isoformat()}: {impact.changed} of {impact.persons} persons change "
                  f"(base rules {impact.base['rules_version']}, variant rules {impact.variant['rules_version']}, "
                  f"proposals: {proposals})")
    if not impact.outputs:
        console.print("No output changes for any person.")
        return buffer.getvalue()
    table = Table(show_lines=False)
    for column, justify in (("output", "left"), ("from", "left"), ("to", "left"), ("persons", "right"),
                            ("examples", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, transitions in impact.outputs.items():
        first, more, persons = shown(transitions)
        for index, transition in enumerate(first):
            table.add_row(name if index == 0 else "", state_text(transition.before), state_text(transition.after),
                          f"{transition.count:,}", ", ".join(str(e) for e in transition.examples))
        if more:
            table.add_row("", f"... {more} more transitions", "", f"{persons:,}", "")
    console.print(table)
    return buffer.getvalue()


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table.meta td { padding: 0 1em 0 0; }
svg text { font-size: 12px; font-family: system-ui, sans-serif; }
.examples { color: #666; font-size: 0.85em; }
"""


def render_html(impact: Impact) -> str:
    """A page with a bar chart of the transitions of each output (inline SVG)."""
    e = html.escape
    proposals = ", ".join(f"{k} = {v}" for k, v in impact.variant["proposals"].items()) or "none"
    parts = [
        "<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Impact on {e(impact.on.isoformat())}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Impact on {e(impact.on.isoformat())}: {impact.changed:,} of {impact.persons:,} persons change</h1>",
        "<table class=\"meta\">",
        f"<tr><td>base rules</td><td>{e(impact.base['rules_version'])}</td></tr>",
        f"<tr><td>variant rules</td><td>{e(impact.variant['rules_version'])}</td></tr>",
        f"<tr><td>proposals</td><td>{e(proposals)}</td></tr></table>",
    ]
    if not impact.outputs:
        parts.append("<p>No output changes for any person.</p>")
    for name, transitions in impact.outputs.items():
        parts.append(f"<h2>{e(name)}</h2>")
        transitions, more, persons = shown(transitions)
        parts.append(_chart(transitions))
        if more:
            parts.append(f"<p>and {more} more transitions, of {persons:,} persons (all in the JSON report)</p>")
        parts.append("<ul class=\"examples\">" + "".join(
            f"<li>{e(state_text(t.before))} &rarr; {e(state_text(t.after))}: "
            f"{e(', '.join(str(x) for x in t.examples))}</li>" for t in transitions) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _chart(transitions: list[Any]) -> str:
    label_width, bar_width, row = 330, 420, 24
    largest = max(t.count for t in transitions) or 1
    height = row * len(transitions) + 8
    items = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + bar_width + 90}" height="{height}" '
             f'role="img" aria-label="transitions">']
    for index, transition in enumerate(transitions):
        y = 4 + index * row
        length = max(1, round(bar_width * transition.count / largest))
        label = html.escape(f"{state_text(transition.before)} \u2192 {state_text(transition.after)}")
        items.append(f'<text x="0" y="{y + 15}">{label}</text>')
        items.append(f'<rect x="{label_width}" y="{y + 3}" width="{length}" height="16" fill="#3b6ea5"/>')
        items.append(f'<text x="{label_width + length + 6}" y="{y + 15}">{transition.count:,}</text>')
    items.append("</svg>")
    return "".join(items)
