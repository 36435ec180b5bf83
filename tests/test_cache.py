"""The cache of checked rule sets (engine.cache): a hit gives what loading the files
gives, a changed file or engine is never answered from an old entry, and an entry that is
corrupt or was not written under the user's key is ignored and rebuilt."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine import cache
from engine.cli import main
from engine.errors import PolicyError
from engine.ruleset import RuleSet
from engine.scenarios.runner import load_scenarios

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user"))
    monkeypatch.setenv("DECREE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DECREE_NO_CACHE", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ROOT / "rules", tmp_path / "rules"))


def no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, loading from the files fails the test: only a hit can answer."""
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("loaded from the files, not from the cache")
    monkeypatch.setattr(cache, "load_texts", fail)


def decide_all(ruleset: RuleSet) -> list[dict[str, Any]]:
    scenarios, problems = load_scenarios(ruleset, [ROOT / "tests" / "scenarios"])
    assert not problems
    return [ruleset.evaluate(s.facts, s.on, s.proposals).to_json() for s in scenarios]


def test_a_hit_gives_what_loading_the_files_gives(cache_dir: Path, rules: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = cache.load(rules)
    assert len(list(cache_dir.glob("*.ruleset"))) == 1
    no_loading(monkeypatch)
    hit = cache.load(rules)
    assert hit is not loaded and hit.content_hash == loaded.content_hash
    assert decide_all(hit) == decide_all(RuleSet.load(rules))
    assert [w.render() for w in hit.warnings] == [w.render() for w in loaded.warnings]
    assert hit.order == loaded.order and set(hit.graph.edges) == set(loaded.graph.edges)


def test_a_changed_rule_file_misses(cache_dir: Path, rules: Path) -> None:
    before = cache.load(rules)
    path = rules / "boetes.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n# a comment changes the text\n", encoding="utf-8")
    after = cache.load(rules)
    assert after.content_hash != before.content_hash == RuleSet.load(ROOT / "rules").content_hash
    assert len(list(cache_dir.glob("*.ruleset"))) == 2


def test_a_changed_engine_misses(cache_dir: Path, rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.load(rules)
    monkeypatch.setattr(cache, "_engine_fingerprint", lambda: "another engine")
    cache.load(rules)
    assert len(list(cache_dir.glob("*.ruleset"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "garble", "foreign key"])
def test_a_corrupt_or_foreign_entry_is_ignored_and_rebuilt(cache_dir: Path, rules: Path, damage: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    expected = decide_all(cache.load(rules))
    (entry,) = cache_dir.glob("*.ruleset")
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "garble":
        entry.write_bytes(data[:100] + bytes(b ^ 0x55 for b in data[100:200]) + data[200:])
    else:  # an entry made under someone else's key (a cache directory copied from elsewhere)
        key = Path(cache.user_directory() / "key")
        key.write_bytes(b"\x01" * 32)
    assert cache._read(entry.stem) is None
    assert decide_all(cache.load(rules)) == expected
    assert cache._read(entry.stem) is not None  # written again, whole


def test_the_cache_can_be_switched_off(cache_dir: Path, rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    facts = str(ROOT / "examples" / "persoon.yaml")
    off = runner.invoke(main, ["--no-cache", "eval", facts, "--on", "2024-03-01", "--rules", str(rules)])
    assert off.exit_code == 0 and not cache_dir.exists()
    monkeypatch.setenv("DECREE_NO_CACHE", "1")
    assert runner.invoke(main, ["eval", facts, "--on", "2024-03-01", "--rules", str(rules)]).output == off.output
    assert not cache_dir.exists()
    monkeypatch.delenv("DECREE_NO_CACHE")
    on = runner.invoke(main, ["eval", facts, "--on", "2024-03-01", "--rules", str(rules)])
    assert on.output == off.output and len(list(cache_dir.glob("*.ruleset"))) == 1
    no_loading(monkeypatch)
    assert runner.invoke(main, ["eval", facts, "--on", "2024-03-01", "--rules", str(rules)]).output == off.output


def test_a_rule_set_with_errors_is_not_cached(cache_dir: Path, rules: Path) -> None:
    path = rules / "boetes.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("when:", "when: and", 1), encoding="utf-8")
    with pytest.raises(PolicyError):
        cache.load(rules)
    assert not list(cache_dir.glob("*.ruleset"))


def test_the_engine_fingerprint_covers_the_schemas_rule_files_are_checked_against() -> None:
    from engine.sources import schema

    assert Path(str(schema.SCHEMAS)).resolve() == cache.SCHEMAS.resolve() and any(cache.SCHEMAS.glob("*.json"))


def test_without_a_place_for_the_cache_the_rule_set_still_loads(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("DECREE_CACHE_DIR", raising=False)
    monkeypatch.delenv("DECREE_NO_CACHE", raising=False)

    def homeless() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", homeless)
    assert cache.load(rules).content_hash == RuleSet.load(rules).content_hash
