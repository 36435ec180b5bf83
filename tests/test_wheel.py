"""The built wheel works from any folder: commands, packaged rules and schemas, types.

The wheel is built from a copy of the project (so no ``build/`` appears in the checkout)
with ``pip wheel --no-build-isolation`` (setuptools comes with the dev extras), and
installed without its dependencies into a fresh virtual environment. The dependencies
come from this project's own environment through a ``.pth`` file naming its
site-packages: CI needs no network for this test, and the package itself can only come
from the wheel (a path line in a ``.pth`` file does not run the editable install's
finder, which lives in that site-packages). Then, in an empty folder (no ``rules/``, no
``schemas/``), ``decree check``, ``eval``, ``explain``, ``test``, ``graph`` and ``show`` run, and
``mypy --strict`` checks a small consumer module against the installed package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("pyproject.toml", "README.md", "engine", "schemas", "rules")

PERSON = (ROOT / "examples" / "persoon.yaml").read_text(encoding="utf-8")

SCENARIO = """\
# yaml-language-server: $schema=https://decree.invalid/schemas/fixture.schema.json
scenarios:
  - name: who lives in Wallonia is not in the target group
    on: 2024-03-01
    facts:
      persoon: {geboortedatum: 1990-05-01, nationaliteiten: [MA]}
      verblijf: {grond: gezinshereniging, tijdelijk_max_1_jaar: false}
      inschrijving: {eerste_datum: 2022-06-15, gewest: wallonie}
    expect:
      doelgroep: false
"""

CONSUMER = """\
from datetime import date

from engine import PolicyError, Result, RuleSet


def status_on(day: date) -> object:
    rules: RuleSet = RuleSet.load()
    result: Result = rules.evaluate({"persoon.geboortedatum": date(1990, 5, 1)}, on=day)
    try:
        return result.outputs.get("status")
    except PolicyError as error:
        return error.message
"""

# with RuleSet seen as Any (no py.typed) this module passes mypy; with types it cannot
WRONG_CONSUMER = """\
from engine import RuleSet

version: int = RuleSet.load().content_hash
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SHIPPED:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copyfile(origin, source / name)
    wheels = base / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                            "--no-index", "-w", str(wheels), str(source)],
                           capture_output=True, text=True, timeout=120, env=_clean_env())
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    warnings = [line for line in (built.stdout + built.stderr).splitlines()
                if "warn" in line.lower() and "byte-compiling is disabled" not in line]
    assert warnings == [], "\n".join(warnings)
    [wheel] = wheels.glob("decree-*.whl")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "decree_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n",
                                                                 encoding="utf-8")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--no-index", str(wheel)], capture_output=True, text=True, timeout=120,
                             env=_clean_env())
    assert install.returncode == 0, install.stdout + install.stderr

    empty = base / "elsewhere"
    empty.mkdir()
    return {"venv": venv, "python": python, "folder": empty}


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV", "MYPY"))}
    env["COLUMNS"] = "200"
    return env


def decree(installed: dict[str, Path], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(installed["venv"] / "bin" / "decree"), *args], cwd=cwd or installed["folder"],
                          capture_output=True, text=True, timeout=120, env=_clean_env())


def test_the_package_comes_from_the_wheel_with_its_data(installed: dict[str, Path]) -> None:
    done = subprocess.run([str(installed["python"]), "-c",
                           "import engine, engine.ruleset as r, engine.sources.schema as s; "
                           "print(engine.__file__); print(r.packaged_rules()); print(s.SCHEMAS)"],
                          cwd=installed["folder"], capture_output=True, text=True, env=_clean_env())
    assert done.returncode == 0, done.stderr
    module, rules, schemas = done.stdout.splitlines()
    venv = str(installed["venv"])
    assert module.startswith(venv) and rules.startswith(venv) and schemas.startswith(venv)
    shipped = sorted(str(p.relative_to(rules)) for p in Path(rules).rglob("*.yaml"))
    assert shipped == sorted(str(p.relative_to(ROOT / "rules")) for p in (ROOT / "rules").rglob("*.yaml"))
    assert (Path(module).parent / "py.typed").is_file()
    assert not Path(rules).is_symlink() and not Path(schemas).is_symlink()


def test_check_uses_the_packaged_rules(installed: dict[str, Path]) -> None:
    done = decree(installed, "check")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: ") and " rules, " in done.stdout


def test_eval_explain_and_graph_from_an_empty_folder(installed: dict[str, Path], tmp_path: Path) -> None:
    facts = tmp_path / "persoon.yaml"
    facts.write_text(PERSON, encoding="utf-8")
    done = decree(installed, "eval", str(facts), "--on", "2024-03-01")
    assert done.returncode == 0, done.stderr
    assert "  status " in done.stdout and "'verplicht'" in done.stdout
    done = decree(installed, "explain", "status", str(facts), "--on", "2024-03-01")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("status = 'verplicht'"), done.stdout[:300]
    done = decree(installed, "graph", "--format", "mermaid", "--output", "status")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("flowchart") and "status" in done.stdout
    done = decree(installed, "show", "doelgroep.basis")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("doelgroep.basis: ")


def test_test_runs_a_scenario_of_the_folder(installed: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "tests" / "scenarios").mkdir(parents=True)
    (tmp_path / "tests" / "scenarios" / "one.yaml").write_text(SCENARIO, encoding="utf-8")
    done = decree(installed, "test", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 passed, 0 failed")


def test_a_typed_consumer_sees_the_types(installed: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "consumer.py").write_text(CONSUMER, encoding="utf-8")
    (tmp_path / "wrong.py").write_text(WRONG_CONSUMER, encoding="utf-8")

    def mypy(module: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--python-executable",
                               str(installed["python"]), "--cache-dir", str(tmp_path / ".mypy_cache"),
                               "--no-error-summary", module], cwd=tmp_path, capture_output=True, text=True,
                              timeout=180, env=_clean_env())

    good = mypy("consumer.py")
    assert good.returncode == 0, good.stdout + good.stderr
    wrong = mypy("wrong.py")
    assert wrong.returncode == 1
    assert textwrap.dedent("""\
        wrong.py:3: error: Incompatible types in assignment (expression has type "str", variable has type "int")""") \
        in wrong.stdout
