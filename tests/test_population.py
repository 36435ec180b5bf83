"""decree batch and decree impact: the columnar backend gives RuleSet.evaluate's results
for every row (scenarios and generated persons), cells say unknown and none apart, bad
rows are reported where they are, and an impact report has the contract's shape."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.population.batch import run_batch
from engine.population.impact import measure
from engine.population.io import write_population
from engine.population.report import render_html
from engine.ruleset import RuleSet
from engine.scenarios.fixtures import fixture_files, read_fixtures
from engine.sources.facts import read_facts
from engine.values import to_json
from tests.conftest import SCENARIOS
from tools.population import generate

ON = date(2027, 11, 1)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _per_person(decree: RuleSet, facts: dict[str, Any], on: date, proposals: dict[str, Any],
                exact: bool = False) -> dict[str, Any]:
    result = decree.evaluate(facts, on, proposals, validated=True, exact=exact)
    return json.loads(json.dumps(result.to_json(), default=str))


@pytest.mark.parametrize("exact", [False, True])
def test_batch_equals_per_person_evaluation_on_every_scenario(decree: RuleSet, tmp_path: Path, exact: bool) -> None:
    by_proposals: dict[tuple[tuple[str, Any], ...], list[Any]] = {}
    for path in fixture_files([SCENARIOS]):
        scenarios, problems = read_fixtures(path, decree)
        assert not problems
        for scenario in scenarios:
            by_proposals.setdefault(tuple(sorted(scenario.proposals.items())), []).append(scenario)
    compared = 0
    for proposals, scenarios in by_proposals.items():
        source = tmp_path / f"scenarios-{compared}.jsonl"
        with source.open("w", encoding="utf-8") as out:
            for index, scenario in enumerate(scenarios):
                facts = {name: _plain(value) for name, value in read_facts(scenario.facts, decree.vocabulary).items()}
                out.write(json.dumps({"id": index, "on": scenario.on.isoformat(), "facts": facts}) + "\n")
        result = tmp_path / f"result-{compared}.jsonl"
        run_batch(decree, str(source), ON, dict(proposals), str(result), exact=exact)
        for line, scenario in zip(_lines(result), scenarios, strict=True):
            facts = read_facts(scenario.facts, decree.vocabulary)
            expected = _per_person(decree, facts, scenario.on, dict(proposals), exact)
            assert line == {"id": line["id"], **expected}, scenario.name
            compared += 1
    assert compared >= 160


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (tuple, frozenset)):
        return sorted(_plain(v) for v in value) if isinstance(value, frozenset) else [_plain(v) for v in value]
    if type(value).__name__ == "Decimal":
        return int(value) if value == int(value) else str(value)
    return value


@pytest.mark.parametrize("proposals", [{}, {"arbeidsmigranten": None}])
def test_batch_equals_per_person_evaluation_on_10000_generated_persons(decree: RuleSet, tmp_path: Path,
                                                                       proposals: dict[str, Any]) -> None:
    frame = generate(10_000, seed=11, missing=0.33)
    # an evaluation date per row for some persons: the date is one of each output's inputs
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) % 7 == 0).then(pl.lit(date(2023, 6, 1)))
                               .otherwise(None).alias("on"))
    source = tmp_path / "persons.parquet"
    write_population(frame, str(source))
    result = tmp_path / "result.jsonl"
    summary = run_batch(decree, str(source), ON, proposals, str(result), chunk_rows=4_000)
    # the equality below covers the rows with missing facts settled in Polars over values
    # and unknowns (engine.population.kleene): a third of the persons lack a fact or two
    assert summary.with_unknowns > 2_000
    lines = _lines(result)
    assert len(lines) == 10_000
    coder_rows = frame.to_dicts()
    mismatches = 0
    for row, line in zip(coder_rows, lines):
        facts = _facts_of_row(row, decree)
        on = row["on"] or ON
        expected = _per_person(decree, facts, on, proposals)
        if line != {"id": row["id"], **expected}:
            mismatches += 1
    assert mismatches == 0


@pytest.mark.parametrize("by_table", [True, False])
def test_chunks_that_lack_other_facts_are_settled_as_the_facade_does(decree: RuleSet, monkeypatch: pytest.MonkeyPatch,
                                                                     by_table: bool) -> None:
    """The query over values and unknowns leaves out the masks of the facts no row lacks
    (engine.population.kleene): a later chunk lacking facts an earlier one did not needs
    them back. Chunks of 600 rows: none lacking, then each lacking its own facts (the
    third two at once, and one of those again with another). Unknowns decoded from
    their masks through a table indexed by mask, and by lookup (masks too wide for one)."""
    from engine.population import kleene

    if not by_table:
        monkeypatch.setattr(kleene, "DENSE_MASKS", 0)
    backend, settled = _run_lacking(decree, [(), ("persoon.alfa",), ("persoon.geboortedatum",),
                                             ("inschrijving.gewest", "verblijf.grond"),
                                             ("verblijf.grond", "traject.contract_datum")])
    assert all(later > before for before, later in zip(settled, settled[1:]))  # each took the pass
    assert backend._unknown_pass is not None and len(backend._unknown_pass.bits) == 5


def test_a_mask_has_a_bit_per_fact_lacked_not_per_fact_of_the_vocabulary(decree: RuleSet,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With masks of two bits (the vocabulary has 37 facts): the rows of chunks lacking
    two facts between them are settled by the pass over unknowns; a chunk lacking a third
    goes step by step, as does every row when masks could not name even one fact."""
    monkeypatch.setattr("engine.population.kleene.MASK_BITS", 2)
    blocks = [("persoon.alfa",), ("persoon.geboortedatum", "persoon.alfa"), ("verblijf.grond",)]
    _, settled = _run_lacking(decree, blocks)
    assert 0 < settled[0] < settled[1] == settled[2]
    monkeypatch.setattr("engine.population.kleene.MASK_BITS", 0)
    _, settled = _run_lacking(decree, blocks)
    assert settled == [0, 0, 0]


def _run_lacking(decree: RuleSet, blocks: list[tuple[str, ...]]) -> tuple[Any, list[int]]:
    """Chunks of 600 generated persons, two in three of chunk ``i`` lacking the facts of
    ``blocks[i]``, through one backend: every row compared with RuleSet.evaluate, and
    the rows settled by the pass over unknowns after each chunk."""
    from engine.population.cells import Coder
    from engine.population.columnar import ColumnarBackend, output_column
    from tests.test_differential import _production, _shown

    frame = generate(600 * len(blocks), seed=14)
    row = pl.int_range(pl.len()) // 600
    updates = []
    for name in {f for block in blocks for f in block}:
        lacking = pl.any_horizontal([(row == i) & (pl.int_range(pl.len()) % 3 > 0) for i, block in enumerate(blocks)
                                     if name in block])
        updates.append(pl.when(lacking).then(None).otherwise(pl.col(name)).alias(name))
        if f"{name}:none" in frame.columns:
            updates.append(pl.when(lacking).then(False).otherwise(pl.col(f"{name}:none")).alias(f"{name}:none"))
    frame = frame.with_columns(updates)
    coder = Coder(decree.vocabulary, ON)
    backend = ColumnarBackend(decree, {}, coder)
    rows = frame.to_dicts()
    settled = []
    for first in range(0, frame.height, 600):
        decided = backend.run(coder.from_columns(frame.slice(first, 600), first))
        settled.append(backend.unknown_rows)
        for index in range(600):
            facts = _facts_of_row(rows[first + index], decree)
            expected = _production(decree, facts, ON, {})
            got = {o: _shown(backend.value(o, decided[index, output_column(o)])) for o in decree.public_outputs}
            assert got == {o: shown for o, (shown, _) in expected.items()}, (first + index, facts)
    return backend, settled


def _facts_of_row(row: dict[str, Any], decree: RuleSet) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in (d.name for d in decree.vocabulary.of_kind("fact")):
        if row.get(f"{name}:none"):
            data[name] = None
        elif row.get(name) is not None:
            data[name] = row[name]
    return read_facts(data, decree.vocabulary)


def test_the_per_combination_path_alone_gives_the_same_results(decree: RuleSet, tmp_path: Path) -> None:
    from engine.population.cells import Coder
    from engine.population.columnar import ColumnarBackend

    frame = generate(1_500, seed=12, missing=0.33)
    coder = Coder(decree.vocabulary, ON)
    chunk = coder.from_columns(frame, 0)
    columnar = ColumnarBackend(decree, {"arbeidsmigranten": None}, coder)
    plain = ColumnarBackend(decree, {"arbeidsmigranten": None}, coder, translate=False)
    fast, slow = columnar.run(chunk), plain.run(chunk)
    assert plain.columnar_rows == 0 and plain.evaluations > 0 and columnar.columnar_rows > 0
    for name in decree.public_outputs:
        column = f"output:{name}"
        assert [columnar.value(name, c) for c in fast.get_column(column)] == \
            [plain.value(name, c) for c in slow.get_column(column)], name


def test_every_row_with_an_unknown_and_no_other_is_decided_whole_by_the_facade(decree: RuleSet) -> None:
    """What becomes of an unknown is RuleSet.evaluate's to say: the backend sends each
    row with an unknown public output (on the plan's general path, which does not decide
    unknowns exactly), and only those, to evaluate_person."""
    from engine.population.cells import Coder
    from engine.population.columnar import ColumnarBackend
    from engine.sources.asof import as_of
    from tests.test_differential import _oracle

    coder = Coder(decree.vocabulary, ON)
    chunk = coder.from_columns(generate(2_000, seed=13, missing=0.33), 0)
    backend = ColumnarBackend(decree, {}, coder, exact=True)
    routed = {name: "routed" for name in backend.public}
    backend.persons.evaluate_person = lambda facts, on: routed  # type: ignore[method-assign]
    decided = backend.run(chunk)
    sent = 0
    for index, row in enumerate(chunk.frame.iter_rows(named=True)):
        general = _oracle(decree, as_of(coder.facts_of(row), ON, decree.events), ON, {})
        values = {name: backend.value(name, decided[index, f"output:{name}"]) for name in backend.public}
        if any(shown[0] == "unknown" for shown, _ in general.values() if isinstance(shown, tuple)):
            assert values == routed, index
            sent += 1
        else:
            assert "routed" not in values.values(), index
    assert 2_000 > sent > 100


def test_an_empty_cell_is_unknown_and_a_none_column_says_no_value(decree: RuleSet, tmp_path: Path) -> None:
    source = tmp_path / "persons.csv"
    # the same person three times: contract date unknown, known to be none, given
    source.write_text(
        "id,persoon.geboortedatum,persoon.nationaliteiten,verblijf.grond,verblijf.langer_dan_3_maanden,"
        "verblijf.eerste_keer,inschrijving.eerste_datum,inschrijving.gewest,traject.contract_datum,"
        "traject.contract_datum:none\n"
        'a,1990-05-01,"[""MA""]",werk,true,true,2023-03-01,vlaanderen,,\n'
        'b,1990-05-01,"[""MA""]",werk,true,true,2023-03-01,vlaanderen,,true\n'
        'c,1990-05-01,"[""MA""]",werk,true,true,2023-03-01,vlaanderen,2023-05-01,false\n', encoding="utf-8")
    result = tmp_path / "result.jsonl"
    run_batch(decree, str(source), date(2024, 3, 1), {}, str(result))
    unknown, none, given = _lines(result)
    assert "traject.contract_datum" in unknown["unknown"]["nt2_doel"]
    assert "nt2_doel" in none["not_applicable"]
    assert given["unknown"]["nt2_doel"] == ["persoon.alfa"]  # the contract date is known now
    base = {"persoon.geboortedatum": date(1990, 5, 1), "persoon.nationaliteiten": ("MA",), "verblijf.grond": "werk",
            "verblijf.langer_dan_3_maanden": True, "verblijf.eerste_keer": True,
            "inschrijving.eerste_datum": date(2023, 3, 1), "inschrijving.gewest": "vlaanderen"}
    facts = read_facts(base, decree.vocabulary)
    assert unknown == {"id": "a", **_per_person(decree, facts, date(2024, 3, 1), {})}
    assert none == {"id": "b", **_per_person(decree, {**facts, "traject.contract_datum": None}, date(2024, 3, 1), {})}
    assert given == {"id": "c", **_per_person(decree, {**facts, "traject.contract_datum": date(2023, 5, 1)},
                                              date(2024, 3, 1), {})}


def test_bad_rows_are_reported_where_they_are_and_nothing_is_written_half(decree: RuleSet, tmp_path: Path) -> None:
    source = tmp_path / "persons.csv"
    source.write_text("id,persoon.geboortedatum,verblijf.grond\n"
                      "a,1990-05-01,werk\n"
                      "b,1990-13-01,werk\n"
                      "c,1990-05-01,werkk\n", encoding="utf-8")
    output = tmp_path / "result.jsonl"
    output.write_text("earlier results\n")
    runner = CliRunner()
    failed = runner.invoke(main, ["batch", str(source), "--on", "2024-03-01", "--output", str(output)])
    assert failed.exit_code == 2
    assert f"{source}:3:3: error: fact 'persoon.geboortedatum': impossible date '1990-13-01'" in failed.output
    assert f"{source}:4:14: error: fact 'verblijf.grond' does not take the value 'werkk'; did you mean 'werk'?" \
        in failed.output
    assert output.read_text() == "earlier results\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    skipped = runner.invoke(main, ["batch", str(source), "--on", "2024-03-01", "--output", str(output),
                                   "--on-error", "skip"])
    assert skipped.exit_code == 0, skipped.output
    assert [line["id"] for line in _lines(output)] == ["a"]
    assert "2 bad rows skipped" in skipped.output


def test_a_misspelt_column_is_an_error_not_an_unknown_fact(decree: RuleSet, tmp_path: Path) -> None:
    source = tmp_path / "persons.csv"
    source.write_text("id,persoon.geboortedatun\na,1990-05-01\n", encoding="utf-8")
    failed = CliRunner().invoke(main, ["batch", str(source), "--on", "2024-03-01", "--output",
                                       str(tmp_path / "out.csv"), "--on-error", "skip"])
    assert failed.exit_code == 2
    assert "unknown fact 'persoon.geboortedatun'; did you mean 'persoon.geboortedatum'?" in failed.output


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("population") / "persons.parquet"
    write_population(generate(3_000, seed=5, missing=0.1), str(path))
    return path


def test_the_impact_of_a_rule_set_against_itself_is_empty(decree: RuleSet, population: Path) -> None:
    found = measure(decree, decree, {}, str(population), ON)
    assert found.to_json()["changed"] == 0 and found.to_json()["outputs"] == {}
    assert found.persons == 3_000
    other = RuleSet.load(Path(__file__).resolve().parent.parent / "rules")
    assert measure(decree, other, {}, str(population), ON).changed == 0


def test_the_impact_of_the_labour_migrant_proposal(decree: RuleSet, population: Path, tmp_path: Path) -> None:
    changed = tmp_path / "changed.jsonl"
    result = CliRunner().invoke(main, ["impact", str(population), "--on", "2027-11-01", "--proposal",
                                       "arbeidsmigranten", "--format", "json", "--changed", str(changed)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"on", "persons", "changed", "base", "variant", "outputs"}
    assert report["variant"]["proposals"] == {"arbeidsmigranten": "2027-09-01"}
    became = {(json.dumps(t["from"]), json.dumps(t["to"])): t for t in report["outputs"]["arbeidsmigrant_modules_verplicht"]}
    assert became[("null", "true")]["count"] > 0
    example = became[("null", "true")]["examples"][0]
    rows = {line["id"]: line for line in _lines(changed)}
    assert len(rows) == report["changed"]
    assert rows[example]["base"]["not_applicable"].count("arbeidsmigrant_modules_verplicht") == 1
    assert rows[example]["variant"]["outputs"]["arbeidsmigrant_modules_verplicht"] is True
    counted = sum(t["count"] for t in report["outputs"]["arbeidsmigrant_modules_verplicht"])
    assert counted <= report["changed"] <= report["persons"]


def test_impact_counts_equal_those_of_per_person_evaluation(decree: RuleSet, population: Path) -> None:
    found = measure(decree, decree, {"arbeidsmigranten": date(2026, 1, 1)}, str(population), ON).to_json()
    frame = pl.read_parquet(population)
    counted: dict[tuple[str, str, str], int] = {}
    changed = 0
    for row in frame.to_dicts():
        facts = _facts_of_row(row, decree)
        before = decree.evaluate(facts, ON, validated=True, exact=False).decisions
        after = decree.evaluate(facts, ON, {"arbeidsmigranten": date(2026, 1, 1)}, validated=True, exact=False).decisions
        moved = False
        for name in decree.public_outputs:
            states = [_state(d) for d in (before[name], after[name])]
            if states[0] != states[1]:
                key = (name, states[0], states[1])
                counted[key] = counted.get(key, 0) + 1
                moved = True
        changed += moved
    reported = {(name, json.dumps(t["from"]), json.dumps(t["to"])): t["count"]
                for name, transitions in found["outputs"].items() for t in transitions}
    assert found["changed"] == changed > 0
    assert reported == counted


def _state(decision: Any) -> str:
    if decision.status == "unknown":
        return json.dumps({"unknown": True})
    if decision.status == "not_applicable":
        return "null"
    return json.dumps(json.loads(json.dumps(to_json(decision.value), default=str)))


def test_the_html_report_is_self_contained(decree: RuleSet, population: Path) -> None:
    page = render_html(measure(decree, decree, {"arbeidsmigranten": None}, str(population), ON))
    assert "<svg" in page and "<rect" in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in page


def test_typed_date_columns_are_coded_by_day_across_chunks(decree: RuleSet) -> None:
    """A Parquet date column is coded through a table indexed by day (cells.py): each
    cell's code stands for its own date, a date seen in an earlier chunk keeps its code,
    a null stays unknown, and a date outside the table's centuries is coded the general way."""
    from engine.population.cells import MISSING, Coder, fact_column

    coder = Coder(decree.vocabulary, ON)
    name = "persoon.geboortedatum"
    chunks = [[date(1990, 5, 17), None, date(2004, 2, 29), date(1990, 5, 17)],
              [date(2004, 2, 29), date(1801, 1, 1), date(2599, 12, 31), None, date(1750, 3, 1)]]
    seen: dict[date, int] = {}
    for first, days in enumerate(chunks):
        frame = pl.DataFrame({name: pl.Series(days, dtype=pl.Date)})
        codes = coder.from_columns(frame, first * 10).frame.get_column(fact_column(name)).to_list()
        for day, code in zip(days, codes):
            if day is None:
                assert code == MISSING
                continue
            assert coder.books[name].values[code] == day
            assert seen.setdefault(day, code) == code


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_table_outputs_written_beside_the_next_chunk_hold_every_row_in_order(decree: RuleSet, tmp_path: Path,
                                                                             suffix: str) -> None:
    """Parquet and CSV results are written on a thread while the next chunk is decided
    (batch._Writer): every chunk lands whole, once, in input order, as JSON Lines say."""
    frame = generate(2_500, seed=5, missing=0.2)
    source = tmp_path / "persons.parquet"
    write_population(frame, str(source))
    lines = tmp_path / "result.jsonl"
    run_batch(decree, str(source), ON, {}, str(lines), chunk_rows=300)
    expected = _lines(lines)
    table = tmp_path / f"result.{suffix}"
    run_batch(decree, str(source), ON, {}, str(table), chunk_rows=300)
    written = pl.read_parquet(table) if suffix == "parquet" else pl.read_csv(table, infer_schema=False)
    if suffix == "parquet":  # a row group a chunk (Polars' default groups split chunks)
        import pyarrow.parquet as pq

        assert pq.ParquetFile(table).metadata.num_row_groups == 9
    assert written.get_column("id").cast(pl.String).to_list() == [str(line["id"]) for line in expected]
    for output in ("verplicht", "status", "aanmelding_uiterlijk"):
        column = written.get_column(output).cast(pl.String).to_list()
        assert column == [_as_cell(line["outputs"].get(output)) for line in expected]
    # the facts each unknown misses, for every output (in CSV joined by ';')
    for output in decree.public_outputs:
        missing = written.get_column(f"{output}:unknown").to_list()
        if suffix == "csv":
            missing = [None if cell is None else cell.split(";") for cell in missing]
        assert missing == [line["unknown"].get(output) for line in expected], output
    assert any(line["unknown"] for line in expected)


@pytest.mark.parametrize("failure", ["deciding", "writing"])
def test_a_parquet_run_that_fails_midway_leaves_the_old_output_and_no_part(decree: RuleSet, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch,
                                                                            failure: str) -> None:
    """Parquet is written by Polars' sink on the writer's thread (batch._Writer): a run
    that fails after chunks went to it, in the deciding or in the writing, raises that
    failure (it does not hang), leaves the earlier output as it was and no part file."""
    from engine.population import batch
    from engine.population.columnar import ColumnarBackend

    source = tmp_path / "persons.parquet"
    write_population(generate(1_000, seed=3, missing=0.2), str(source))
    output = tmp_path / "result.parquet"
    output.write_bytes(b"earlier results")
    calls = {"run": 0}
    if failure == "deciding":
        run = ColumnarBackend.run

        def failing_run(self: ColumnarBackend, chunk: Any) -> pl.DataFrame:
            calls["run"] += 1
            if calls["run"] == 3:
                raise RuntimeError("the third chunk failed")
            return run(self, chunk)

        monkeypatch.setattr(ColumnarBackend, "run", failing_run)
    else:
        def failing_sink(self: batch._Writer, schema: pl.Schema) -> None:
            self._chunks.get()  # the first chunk, then the disk is full
            raise OSError("no space left on device")

        monkeypatch.setattr(batch._Writer, "_sink", failing_sink)
    raised: list[BaseException] = []

    def whole_run() -> None:
        try:
            run_batch(decree, str(source), ON, {}, str(output), chunk_rows=200)
        except BaseException as error:  # noqa: BLE001 - the test reads it
            raised.append(error)

    import threading

    thread = threading.Thread(target=whole_run, daemon=True)
    thread.start()
    thread.join(timeout=120)  # a guard against a writer waiting forever, not a measure of speed
    assert not thread.is_alive(), "the run hangs"
    assert [str(e) for e in raised] == ["the third chunk failed" if failure == "deciding" else "no space left on device"]
    assert output.read_bytes() == b"earlier results"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_an_empty_population_gives_an_empty_parquet_file(decree: RuleSet, tmp_path: Path) -> None:
    source = tmp_path / "persons.parquet"
    write_population(generate(10, seed=3).head(0), str(source))
    output = tmp_path / "result.parquet"
    run_batch(decree, str(source), ON, {}, str(output))
    assert pl.read_parquet(output).height == 0


def test_the_ids_of_a_json_lines_file_are_of_one_kind(decree: RuleSet, tmp_path: Path) -> None:
    """A results table holds one type of id: an id that is not a text or a whole number,
    or of another kind than the file's first, is a bad row (not a crash); a chunk with
    no id at all still writes beside chunks with ids."""
    source = tmp_path / "persons.jsonl"
    rows = [{"id": 1, "facts": {}}, {"id": "b", "facts": {}}, {"id": 2.5, "facts": {}}, {"id": True, "facts": {}},
            {"facts": {}}, {"id": 3, "facts": {}}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    output = tmp_path / "result.parquet"
    runner = CliRunner()
    failed = runner.invoke(main, ["batch", str(source), "--on", "2024-03-01", "--output", str(output)])
    assert failed.exit_code == 2, failed.output
    assert f"{source}:2:7: error: this id is a text where the ids before it are whole numbers" in failed.output
    assert f"{source}:3:7: error: an id is a text or a whole number, not 2.5" in failed.output
    assert f"{source}:4:7: error: an id is a text or a whole number, not true" in failed.output
    skipped = runner.invoke(main, ["batch", str(source), "--on", "2024-03-01", "--output", str(output),
                                   "--on-error", "skip"])
    assert skipped.exit_code == 0, skipped.output
    assert pl.read_parquet(output).get_column("id").to_list() == [1, None, 3]
    # chunks of two rows: the first has no id at all, the next whole numbers
    source.write_text('{"facts": {}}\n{"facts": {}}\n{"id": 7, "facts": {}}\n', encoding="utf-8")
    run_batch(decree, str(source), ON, {}, str(output), chunk_rows=2)
    assert pl.read_parquet(output).get_column("id").to_list() == [None, None, "7"]


@pytest.mark.parametrize("command", ["batch", "impact"])
def test_a_file_that_is_not_parquet_is_an_input_error(tmp_path: Path, command: str) -> None:
    source = tmp_path / "persons.parquet"
    source.write_text("id,persoon.geboortedatum\na,1990-05-01\n", encoding="utf-8")
    arguments = ["--output", str(tmp_path / "result.jsonl")] if command == "batch" else ["--proposal", "arbeidsmigranten"]
    result = CliRunner().invoke(main, [command, str(source), "--on", "2024-03-01", *arguments])
    assert result.exit_code == 2, result.output
    assert f"{source}:1:1: error: cannot read '{source}' as Parquet" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_parquet_is_read_in_slices_of_chunk_rows(decree: RuleSet, tmp_path: Path) -> None:
    """Each chunk is a slice of the Parquet file (io.read_chunks): every row once, in order,
    the last chunk shorter, whatever the file's row groups."""
    from engine.population.cells import Coder
    from engine.population.io import read_chunks

    frame = generate(1_030, seed=2)
    source = tmp_path / "persons.parquet"
    frame.write_parquet(source, row_group_size=97)
    chunks = list(read_chunks(str(source), "parquet", Coder(decree.vocabulary, ON), 250))
    assert [c.frame.height for c in chunks] == [250, 250, 250, 250, 30]
    assert [c.first_row for c in chunks] == [0, 250, 500, 750, 1000]
    assert pl.concat([c.frame.select("id") for c in chunks]).get_column("id").to_list() == frame.get_column("id").to_list()


def test_a_codebook_codes_many_values_as_it_codes_one(decree: RuleSet) -> None:
    """Codebook.codes (a run's first chunk brings tens of thousands of dates): a value the
    book holds keeps its code, a repeated one gets one code, True and 1 stay apart; a
    date the book holds from elsewhere keeps its code in a typed date column."""
    from decimal import Decimal

    from engine.population.cells import Codebook, Coder, fact_column

    book = Codebook()
    first = book.code(date(2020, 1, 1))
    assert book.codes([date(2020, 1, 1), date(2021, 1, 1), date(2021, 1, 1), True, 1, Decimal(1)]) == \
        [first, first + 1, first + 1, first + 2, first + 3, first + 4]
    assert [book.code(v) for v in (date(2021, 1, 1), True, 1, Decimal(1))] == [first + 1, first + 2, first + 3, first + 4]
    coder = Coder(decree.vocabulary, ON)
    name = "persoon.geboortedatum"
    held = coder.books[name].code(date(1990, 5, 1))
    frame = pl.DataFrame({name: pl.Series([date(1990, 5, 1), date(1991, 6, 2), date(1990, 5, 1)])})
    codes = coder.from_columns(frame, 0).frame.get_column(fact_column(name)).to_list()
    assert codes[0] == codes[2] == held and codes[1] != held


def test_the_facts_a_first_chunk_lacks_are_known_before_it_is_coded(decree: RuleSet, tmp_path: Path) -> None:
    """io.lacking_at_start reads from a Parquet file which facts its first chunk will lack
    (an empty cell not marked none, an absent column without default), so that the
    query over unknowns is built while that chunk is coded; the guess is the facts the
    coded chunk lacks, neither more (a pass too wide) nor fewer (built twice)."""
    from engine.population.cells import MISSING, Coder, fact_column
    from engine.population.io import lacking_at_start, read_chunks

    frame = generate(3_000, seed=4, missing=0.2).drop("onderwijs.diploma_secundair")
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) >= 1_000).then(None)
                               .otherwise(pl.col("inschrijving.register")).alias("inschrijving.register"))
    source = tmp_path / "persons.parquet"
    frame.write_parquet(source)
    for rows in (1_000, 3_000):
        coder = Coder(decree.vocabulary, ON)
        guess = lacking_at_start(str(source), "parquet", coder, rows)
        chunk = next(read_chunks(str(source), "parquet", coder, rows))
        lacked = {name for name in coder.facts if (chunk.frame.get_column(fact_column(name)) == MISSING).any()}
        assert guess == lacked, rows
        assert ("inschrijving.register" in guess) == (rows > 1_000)
        assert "onderwijs.diploma_secundair" in guess or "onderwijs.diploma_secundair" in coder.defaulted
        assert any(f"{name}:none" in frame.columns for name in guess)  # a column with marks among them
    assert lacking_at_start(str(source), "csv", Coder(decree.vocabulary, ON), 1_000) == frozenset()


def test_a_date_facts_codebook_as_a_column_follows_its_codes(decree: RuleSet) -> None:
    """Coder.dates_by_code: the codebook of a date fact read from typed date columns, as
    the Date column the queries read (built from day numbers, no Python per date), entry
    for entry; none once a date came another way (its code is then not in the column)."""
    from engine.population.cells import Coder

    coder = Coder(decree.vocabulary, ON)
    name = "persoon.geboortedatum"
    book = coder.books[name]
    for cells in ([date(1990, 5, 1), None, date(1985, 2, 3)], [date(1985, 2, 3), date(2001, 7, 9), date(1970, 1, 1)]):
        coder.from_columns(pl.DataFrame({name: pl.Series(cells, dtype=pl.Date)}), 0)
        column = coder.dates_by_code(name, len(book))
        assert column is not None and column.to_list() == [None, None] + book.values[2:]
    assert coder.dates_by_code(name, 3).to_list() == [None, None, book.values[2]]  # type: ignore[union-attr]
    book.code(date(2010, 1, 1))  # as a cell of text would be coded
    assert coder.dates_by_code(name, len(book)) is None
    # then a typed column bringing that date among new ones: the book grows by the new
    # ones only, whatever order they come in; a column made of them would be out of step
    later = [date(2012, 1, day) for day in range(1, 9)] + [date(2010, 1, 1)]
    coder.from_columns(pl.DataFrame({name: pl.Series(later, dtype=pl.Date)}), 0)
    column = coder.dates_by_code(name, len(book))
    assert column is None or column.to_list() == [None, None] + book.values[2:]
    assert coder.dates_by_code(name, len(book)) is None


def test_day_codes_code_each_day_once_and_leave_far_dates_to_the_caller() -> None:
    """coding.DayCodes (typed date cells): a day keeps its code across
    columns, only days new to the table reach the caller's coding, null stays null, and
    a date outside 1800-2600 is left to the caller (None)."""
    from engine.population.cells import Codebook
    from engine.population.coding import DayCodes

    book = Codebook()
    asked: list[list[date]] = []

    def code(dates: pl.Series) -> list[int]:
        asked.append(sorted(dates.to_list()))
        return book.codes(dates.to_list())

    days = DayCodes()
    first = days.codes(pl.Series([date(2020, 1, 1), None, date(1999, 12, 31), date(2020, 1, 1)]), code)
    second = days.codes(pl.Series([date(1999, 12, 31), date(2031, 5, 6)]), code)
    assert first is not None and second is not None
    assert [None if c is None else book.values[c] for c in first.to_list()] == \
        [date(2020, 1, 1), None, date(1999, 12, 31), date(2020, 1, 1)]
    assert second.to_list() == [first[2], book.code(date(2031, 5, 6))]
    assert asked == [[date(1999, 12, 31), date(2020, 1, 1)], [date(2031, 5, 6)]]
    assert days.codes(pl.Series([date(2020, 1, 1), date(2700, 1, 1)]), code) is None
    assert days.codes(pl.Series([date(1799, 12, 31)]), code) is None


def test_columns_coded_on_two_threads_are_coded_as_on_one(decree: RuleSet) -> None:
    """A run's first chunk is coded by two threads (Coder.from_columns, workers=2): each
    fact's column on its own codebook, so every cell stands for the value it stands for
    on one thread, and the problems come in the same order. (Codes themselves follow the
    order Polars finds distinct values in, which no thread count fixes.)"""
    from engine.population.cells import Coder

    frame = generate(3_000, seed=6, missing=0.2).with_columns(
        pl.when(pl.int_range(pl.len()) % 500 == 7).then(pl.lit("werkk")).otherwise(pl.col("verblijf.grond"))
        .alias("verblijf.grond"),
        pl.when(pl.int_range(pl.len()) % 700 == 3).then(pl.lit("nergens")).otherwise(pl.col("inschrijving.gewest"))
        .alias("inschrijving.gewest"))
    one, two = Coder(decree.vocabulary, ON), Coder(decree.vocabulary, ON)
    for first in (0, 1_000):
        alone = one.from_columns(frame.slice(first, 2_000), first, workers=1)
        side_by_side = two.from_columns(frame.slice(first, 2_000), first, workers=2)
        for name in one.facts:
            column = f"fact:{name}"
            assert [one.books[name].values[c] for c in alone.frame.get_column(column)] == \
                [two.books[name].values[c] for c in side_by_side.frame.get_column(column)], name
        assert [(e.row, e.column, e.message) for e in alone.errors] == \
            [(e.row, e.column, e.message) for e in side_by_side.errors]
        assert len(alone.errors) >= 6
    assert {n: set(map(repr, b.values)) for n, b in one.books.items()} == \
        {n: set(map(repr, b.values)) for n, b in two.books.items()}


def test_codebook_tables_stay_one_piece_as_they_grow(decree: RuleSet) -> None:
    """The typed codebooks queries gather from (ColumnarBackend._typed_table,
    Coder.dates_by_code) and the result table's columns (Results._columns_of) grow with
    each chunk; they stay one piece of memory (a gather from a table in pieces cost
    twice as much: 75 against 35 ms for the unknowns' lists of a 250,000-row chunk)."""
    from engine.population.batch import Results
    from engine.population.cells import Coder
    from engine.population.columnar import ColumnarBackend

    coder = Coder(decree.vocabulary, ON)
    backend = ColumnarBackend(decree, {}, coder)
    results = Results(backend, coder)
    for seed in range(3):  # each chunk brings new dates and outcomes
        chunk = coder.from_columns(generate(400, seed=seed, missing=0.3), seed * 400)
        decided = backend.run(chunk)
        results.table(decided, chunk.frame.get_column("on"))
    name = "persoon.geboortedatum"
    assert coder.dates_by_code(name, len(coder.books[name])).n_chunks() == 1  # type: ignore[union-attr]
    assert all(coder._dates_of(event).n_chunks() == 1 for event in decree.events.dates)  # as_of's tables
    typed = [backend._typed_table("fact", f) for f in coder.facts]
    assert [f for f, (values, known) in zip(coder.facts, typed) if values.n_chunks() > 1 or known.n_chunks() > 1] == []
    shown = [results._columns_of(o) for o in results.public]
    assert [o for o, (values, missing) in zip(results.public, shown) if values.n_chunks() > 1 or missing.n_chunks() > 1] == []
    assert len(results._columns_of("aanmelding_uiterlijk")[0]) > 20  # it grew


def _as_cell(value: Any) -> str | None:
    """A JSON output value as a table's cell reads as text."""
    if value is None:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_typed_boolean_columns_are_coded_by_truth(decree: RuleSet) -> None:
    """A Parquet boolean column is coded by a gather from the codes of false and true
    (cells.py): each cell's code stands for its own truth value, null is unknown, and a
    ``FACT:none`` mark says known to have no value."""
    from engine.population.cells import MISSING, NONE, Coder, fact_column

    coder = Coder(decree.vocabulary, ON)
    name = "situatie.werkt"
    chunks = [[True, None, False, True], [None, False, False], [True]]
    for first, cells in enumerate(chunks):
        frame = pl.DataFrame({name: pl.Series(cells, dtype=pl.Boolean)})
        codes = coder.from_columns(frame, first * 10).frame.get_column(fact_column(name)).to_list()
        assert [None if code == MISSING else coder.books[name].values[code] for code in codes] == cells
    marked = pl.DataFrame({name: pl.Series([None, True], dtype=pl.Boolean),
                           f"{name}:none": pl.Series([True, False])})
    codes = coder.from_columns(marked, 0).frame.get_column(fact_column(name)).to_list()
    assert codes[0] == NONE and coder.books[name].values[codes[1]] is True


def test_chunks_read_ahead_come_in_order_whole_and_the_reader_is_closed() -> None:
    """io.ReadAhead reads the next chunk on a thread while the caller decides one: every
    chunk comes, once, in order; a reader's error comes where its chunk would; a caller
    that stops early closes the reader; the first chunk is read from the start."""
    from engine.population.io import ReadAhead as ahead

    closed: list[bool] = []

    def chunks(count: int, failing: int | None = None) -> Any:
        try:
            for number in range(count):
                if number == failing:
                    raise ValueError(f"chunk {number}")
                yield number
        finally:
            closed.append(True)

    assert list(ahead(chunks(7))) == list(range(7))
    seen = []
    with pytest.raises(ValueError, match="chunk 3"):
        for number in ahead(chunks(7, failing=3)):
            seen.append(number)
    assert seen == [0, 1, 2]
    closed.clear()
    early = ahead(chunks(7))
    assert next(early) == 0
    early.close()
    assert closed == [True]
    # the first chunk is read from the start, before the caller asks for it
    import threading

    started = threading.Event()

    def watched() -> Any:
        started.set()
        yield from range(2)

    with ahead(watched()) as reading:
        assert started.wait(timeout=60)
        assert list(reading) == [0, 1]


@pytest.mark.parametrize("dtype", [pl.List(pl.Categorical), pl.List(pl.String)])
def test_lists_are_coded_by_hash_only_where_the_lists_found_hash_apart(monkeypatch: pytest.MonkeyPatch,
                                                                        dtype: Any) -> None:
    """A list output is coded by the hash of each cell when the distinct lists hash
    apart, else by the lists joined into texts: both give each cell its list's code
    (a collision forced to reach the second), and a null cell stays null."""
    from engine.population.coding import coded

    found = [["a", "b"], [], ["c"]]
    frame = pl.DataFrame({"v": [["c"], None, ["a", "b"], [], ["c"]]}, schema={"v": dtype})
    expected = [12, None, 10, 11, 12]
    assert frame.select(coded(pl.col("v"), dtype, found, [10, 11, 12])).to_series().to_list() == expected
    monkeypatch.setattr(pl.Series, "hash", lambda self, *a, **k: pl.Series([7] * len(self), dtype=pl.UInt64))
    assert frame.select(coded(pl.col("v"), dtype, found, [10, 11, 12])).to_series().to_list() == expected


def test_list_cells_are_coded_by_hash_only_where_the_lists_found_hash_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells of a list column (a Parquet list of texts) get their list's code through
    the hash of each cell when the distinct lists hash apart, else through the lists
    joined; a null cell is a missing fact either way; a text column through an enum."""
    from engine.population.cells import MISSING, _mapped

    column = pl.Series("f", [["SY"], None, ["BE", "NL"], [], ["SY"]], dtype=pl.List(pl.String))
    old, new = [["BE", "NL"], [], ["SY"]], [10, 11, 12]
    expected = [12, MISSING, 10, 11, 12]
    assert _mapped(column, old, new).to_list() == expected
    texts = pl.Series("g", ["b", None, "a", "b"])
    assert _mapped(texts, ["a", "b"], [5, 6]).to_list() == [6, MISSING, 5, 6]
    monkeypatch.setattr(pl.Series, "hash", lambda self, *a, **k: pl.Series([7] * len(self), dtype=pl.UInt64))
    assert _mapped(column, old, new).to_list() == expected
