"""The impact of an amendment: whom a proposal (or another rule set) changes, and how.

The population is decided twice on the columnar backend, under the base and under the
variant, chunk by chunk. For each public output, each person's result is reduced to a
*state*: the output's JSON value, not applicable, or unknown (which facts are missing
does not matter here: unknown stays unknown). A transition is a pair of different states
with the number of persons who make it and a few example ids; a person is *changed* when
any output makes a transition. The impact of a rule set against itself is empty.

The JSON form is the contract's (``shared/spec/contracts.md``, Populations); the text
and HTML renderings are in :mod:`engine.population.report`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterator

import polars as pl

from engine.population import io
from engine.population.batch import Results
from engine.population.cells import Coder, CodedChunk
from engine.population.columnar import ColumnarBackend, output_column
from engine.ruleset import Proposals, RuleSet
from engine.values import Unknown, to_json

UNKNOWN_STATE = {"unknown": True}


@dataclass
class Transition:
    before: Any
    after: Any
    count: int = 0
    examples: list[Any] = field(default_factory=list)


@dataclass
class Impact:
    on: date
    persons: int
    changed: int
    base: dict[str, Any]
    variant: dict[str, Any]
    outputs: dict[str, list[Transition]]

    def to_json(self) -> dict[str, Any]:
        return {
            "on": self.on.isoformat(),
            "persons": self.persons,
            "changed": self.changed,
            "base": self.base,
            "variant": self.variant,
            "outputs": {name: [{"from": t.before, "to": t.after, "count": t.count, "examples": t.examples}
                               for t in transitions]
                        for name, transitions in self.outputs.items()},
        }


class _States:
    """Per output: each code's state as a small integer (the same for both sides), and
    the states' JSON values."""

    def __init__(self) -> None:
        self.ids: dict[str, dict[str, int]] = {}
        self.values: dict[str, list[Any]] = {}

    def column(self, backend: ColumnarBackend, output: str, codes: pl.Series) -> pl.Series:
        ids = self.ids.setdefault(output, {})
        values = self.values.setdefault(output, [])
        table = []
        for value in backend.books[output].values:
            state = _state(value)
            key = json.dumps(state, sort_keys=True, default=str)
            if key not in ids:
                ids[key] = len(values)
                values.append(state)
            table.append(ids[key])
        return pl.Series(table, dtype=pl.UInt32).gather(codes)


def _state(value: Any) -> Any:
    if type(value) is Unknown:
        return UNKNOWN_STATE
    if value is None:
        return None
    converted = to_json(value)
    if isinstance(converted, str) and type(converted) is not str:  # an exact decimal
        return json.loads(str(converted))
    return converted


def measure(base: RuleSet, variant: RuleSet, proposals: Proposals, source: str, on: date,
            in_format: str | None = None, examples: int = 3, progress: Callable[[int], None] | None = None,
            changed_path: str | None = None, chunk_rows: int = io.CHUNK_ROWS, exact: bool = False) -> Impact:
    """The transitions from ``base`` (proposals off) to ``variant`` with ``proposals``."""
    fmt = io.format_of(source, in_format)
    base_coder = Coder(base.vocabulary, on)
    variant_coder = base_coder if variant is base else Coder(variant.vocabulary, on)
    before = ColumnarBackend(base, {}, base_coder, exact=exact)
    beside = variant is base  # the same rules: what the proposals leave alone is computed once
    after = ColumnarBackend(variant, proposals, variant_coder, base=before if beside else None, exact=exact)
    outputs = [name for name in before.public if name in after.public]
    states = _States()
    changed = None
    if changed_path is not None:
        changed = ChangedWriter(changed_path)
        changed.bind(Results(before, base_coder), Results(after, variant_coder))
    found: dict[str, dict[tuple[int, int], Transition]] = {name: {} for name in outputs}
    persons = changed_count = 0
    for chunk, other in _chunks(source, fmt, base_coder, variant_coder, chunk_rows):
        problems = chunk.errors or chunk.error_spans
        if problems:
            from engine.population.batch import _problems

            located = _problems(chunk, chunk.frame, before, source, fmt, io.header_of(source, fmt)) \
                if chunk.errors else chunk.error_spans
            from engine.errors import PolicyErrors

            raise PolicyErrors([p for ps in located.values() for p in ps])
        decided_before, decided_after = after.run_beside(chunk) if beside else (before.run(chunk), after.run(other))
        ids = decided_before.get_column("id")
        pairs = pl.DataFrame({"id": ids} | {
            f"{name}:before": states.column(before, name, decided_before.get_column(output_column(name)))
            for name in outputs} | {
            f"{name}:after": states.column(after, name, decided_after.get_column(output_column(name)))
            for name in outputs})
        differs = pl.any_horizontal([pl.col(f"{n}:before") != pl.col(f"{n}:after") for n in outputs]) \
            if outputs else pl.lit(False)
        mask = pairs.select(differs.alias("changed")).get_column("changed")
        persons += pairs.height
        changed_count += int(mask.sum())
        for name in outputs:
            moved = pairs.filter(pl.col(f"{name}:before") != pl.col(f"{name}:after"))
            if moved.height == 0:
                continue
            grouped = moved.group_by([f"{name}:before", f"{name}:after"], maintain_order=True).agg(
                pl.len().alias("count"), pl.col("id").head(examples).alias("examples"))
            for first, second, count, sample in grouped.iter_rows():
                transition = found[name].get((first, second))
                if transition is None:
                    transition = found[name][(first, second)] = Transition(
                        states.values[name][first], states.values[name][second])
                transition.count += count
                transition.examples.extend(sample[:examples - len(transition.examples)])
        if changed is not None and mask.any():
            changed(decided_before.filter(mask), decided_after.filter(mask), chunk.frame.get_column("on").filter(mask))
        if progress is not None:
            progress(pairs.height)
    if changed is not None:
        changed.close()
    return Impact(on, persons, changed_count, _side(base, before), _side(variant, after),
                  {name: sorted(t.values(), key=lambda t: -t.count) for name, t in found.items() if t})


def _side(ruleset: RuleSet, backend: ColumnarBackend) -> dict[str, Any]:
    return {"rules_version": ruleset.content_hash,
            "proposals": {name: day.isoformat() for name, day in sorted(backend.proposals.items())}}


def _chunks(source: str, fmt: str, base: Coder, variant: Coder,
            chunk_rows: int) -> Iterator[tuple[CodedChunk, CodedChunk]]:
    # each side's next chunk read and coded on a thread while this one is decided
    if variant is base:
        with io.ReadAhead(io.read_chunks(source, fmt, base, chunk_rows)) as chunks:
            for chunk in chunks:
                yield chunk, chunk
        return
    with io.ReadAhead(io.read_chunks(source, fmt, base, chunk_rows)) as before, \
            io.ReadAhead(io.read_chunks(source, fmt, variant, chunk_rows)) as after:
        yield from zip(before, after)


class ChangedWriter:
    """The changed persons with both results: JSON Lines ``{"id", "base", "variant"}``, or
    CSV/Parquet with the result columns of each side prefixed ``base:`` and ``variant:``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fmt = io.format_of(path)
        self.frames: list[pl.DataFrame] = []
        self.lines: list[str] = []
        self.base: Results | None = None
        self.variant: Results | None = None

    def bind(self, base: Results, variant: Results) -> None:
        self.base, self.variant = base, variant

    def __call__(self, before: pl.DataFrame, after: pl.DataFrame, days: pl.Series) -> None:
        assert self.base is not None and self.variant is not None
        if self.fmt == "jsonl":
            day_values = self.base.coder.days.values
            left_codes = before.select([output_column(n) for n in self.base.public]).rows()
            right_codes = after.select([output_column(n) for n in self.variant.public]).rows()
            for index, person in enumerate(before.get_column("id")):
                on = day_values[days[index]]
                left = self.base.json_of(on, left_codes[index])
                right = self.variant.json_of(on, right_codes[index])
                self.lines.append(io.dumps_line({"id": person, "base": left, "variant": right}))
            return
        base_table = self.base.table(before, days)
        variant_table = self.variant.table(after, days)
        self.frames.append(pl.concat([
            base_table.select("id", "on"),
            base_table.drop("id", "on").rename(lambda c: f"base:{c}"),
            variant_table.drop("id", "on").rename(lambda c: f"variant:{c}")], how="horizontal"))

    def close(self) -> None:
        with io.atomic(self.path) as temporary:
            if self.fmt == "jsonl":
                with open(temporary, "w", encoding="utf-8") as out:
                    out.writelines(line + "\n" for line in self.lines)
                return
            frame = pl.concat(self.frames) if self.frames else pl.DataFrame({"id": []})
            if self.fmt == "csv":
                lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
                frame.with_columns([pl.col(c).list.join(";") for c in lists]).write_csv(temporary)
            else:
                frame.write_parquet(temporary)
