"""A cache of checked rule sets, so that repeated command-line runs skip the loading.

Like mypy's cache, it is safe to delete at any time and never stale: an entry is found
by a key that covers everything a checked rule set is made of — the engine's own source
code and the JSON Schemas of rule files, the Python version, the installed PyYAML, Lark
and jsonschema (their files' sizes and times), and every rule file's path and text. Change a rule file, the
engine or the Python, and no entry is found: the rule set is loaded from its files and a
new entry written. Only a rule set without errors is cached (with its warnings);
``decree check`` always loads from the files.

Where: ``$DECREE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/decree`` (by default
``~/.cache/decree``), one file per rule set version. Off: ``decree --no-cache ...`` or
``DECREE_NO_CACHE=1``. The newest 32 entries are kept.

Trust. An entry holds the rule set's own objects (rules, syntax trees, spans) as a
pickle, and reading a pickle can run code. So an entry is read only if it carries an
HMAC-SHA256 of its bytes under a secret key of 32 random bytes that lives in the user's
own cache directory (``key``, mode 0600, made on first use, never under
``$DECREE_CACHE_DIR``). An entry made by anyone else — a cache directory shared, copied
or checked into a repository — fails the check and is ignored, as is a truncated or
corrupt one; the rule set is then loaded from its files and the entry written again.
Whoever can read the key can already run code as the user. Closures and generated code
are never stored: they are made on first use, as after any load.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import importlib.util
import os
import pickle
import sys
from pathlib import Path
from typing import Any, Iterable

from engine.errors import PolicyError, PolicyErrors, RuleFileError
from engine.language.expression import Expression
from engine.rules.loader import RuleText, load_texts, read_texts
from engine.sources.yamlsource import DEFAULT_LIMITS, Limits
from engine.ruleset import RuleSet

FORMAT = b"decree-cache-1"
KEEP = 32  # entries kept in the cache directory
_MAC_SIZE = hashlib.sha256().digest_size


def enabled() -> bool:
    return os.environ.get("DECREE_NO_CACHE", "") in ("", "0")


def user_directory() -> Path:
    """The user's own cache directory: where the key lives, and entries by default."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "decree"


def directory() -> Path:
    return Path(os.environ.get("DECREE_CACHE_DIR") or user_directory())


def load(*paths: str | Path, limits: Limits = DEFAULT_LIMITS, use_cache: bool = True) -> RuleSet:
    """The checked rule set of the files under ``paths`` (as :meth:`RuleSet.load`), from
    the cache when an entry for exactly these files and this engine is there."""
    from engine.ruleset import default_rules

    texts, errors = read_texts([Path(p) for p in paths] or [default_rules()], limits)
    return from_texts(texts, errors, limits=limits, use_cache=use_cache)


def from_texts(texts: list[RuleText], errors: list[PolicyError] | None = None, *,
               limits: Limits = DEFAULT_LIMITS, use_cache: bool = True) -> RuleSet:
    """The checked rule set of rule files already read (as :meth:`RuleSet.from_texts`),
    from the cache when there is an entry for them; ``errors`` are the files' that could
    not be read (nothing is cached then)."""
    errors = errors or []
    key = entry_key(texts, limits) if use_cache and not errors else None
    if key is not None:
        found = _read(key)
        if found is not None:
            return found
    ruleset, problems = RuleSet._checked(*load_texts(texts, errors, limits), limits)
    failed = [p for p in problems if p.severity == "error"]
    if failed or ruleset is None:
        raise PolicyErrors(failed or [RuleFileError("no rules found")])
    if key is not None:
        _write(key, ruleset)
    return ruleset


def entry_key(texts: Iterable[RuleText], limits: Limits = DEFAULT_LIMITS) -> str:
    """The name of the entry for these files, under this engine and this Python."""
    digest = hashlib.sha256(FORMAT)
    for part in (_engine_fingerprint(), sys.version, repr(limits)):
        _feed(digest, part)
    for text in texts:
        for part in (text.name, text.key, text.text):
            _feed(digest, part)
    return digest.hexdigest()


def _feed(digest: Any, part: str) -> None:
    data = part.encode("utf-8", "surrogatepass")
    digest.update(len(data).to_bytes(8, "big"))  # length first: no two lists of parts feed the same bytes
    digest.update(data)


# the JSON Schemas rule files are checked against (engine.sources.schema.SCHEMAS, not
# imported: that would import jsonschema); in a checkout a link to the top-level schemas/
SCHEMAS = Path(__file__).resolve().parent / "schemas"


@functools.cache
def _engine_fingerprint() -> str:
    """A digest of the engine's source code and of the schemas (a changed engine finds
    no old entry)."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for folder in (package, SCHEMAS):
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".py", ".lark", ".json") and "__pycache__" not in path.parts:
                _feed(digest, str(path.relative_to(folder)))
                digest.update(path.read_bytes())
    for library in _LIBRARIES:  # an upgrade rewrites a library's files: new times and sizes
        spec = importlib.util.find_spec(library)
        if spec is not None and spec.origin:
            found = os.stat(spec.origin)
            _feed(digest, f"{library} {spec.origin} {found.st_size} {found.st_mtime_ns}")
    return digest.hexdigest()


# the libraries that read rule files (found without importing them: that is the cost saved)
_LIBRARIES = ("yaml", "lark", "jsonschema")


# -- entries ----------------------------------------------------------------------

def _secret() -> bytes:
    """The user's key, made on first use (readable by the user alone)."""
    path = user_directory() / "key"
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    import secrets
    import tempfile  # both only to write: reading an entry needs neither

    key = secrets.token_bytes(32)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent)  # mode 0600
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
    os.replace(temporary, path)
    return key


def _entry(key: str) -> Path:
    return directory() / f"{key}.ruleset"


def _read(key: str) -> RuleSet | None:
    """The rule set of an entry, or None when there is none or it is not one we wrote
    (a wrong MAC) or cannot be read (corrupt): then it is rebuilt."""
    try:
        data = _entry(key).read_bytes()
        mac, payload = data[:_MAC_SIZE], data[_MAC_SIZE:]
        if not hmac.compare_digest(mac, hmac.new(_secret(), payload, hashlib.sha256).digest()):
            return None
        state = pickle.loads(payload)
        return RuleSet(state["loaded"], None, state["warnings"], state["order"])
    except Exception:  # a missing, foreign or corrupt entry is a miss, never a failure
        return None


def _write(key: str, ruleset: RuleSet) -> None:
    """Write the entry for ``ruleset``; a cache that cannot be written is no cache."""
    import tempfile

    state = {"loaded": ruleset.loaded, "warnings": ruleset.warnings, "order": ruleset.order}
    try:
        payload = _dumps(state)
        mac = hmac.new(_secret(), payload, hashlib.sha256).digest()
        folder = directory()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(descriptor, "wb") as file:
            file.write(mac + payload)
        os.replace(temporary, _entry(key))  # readers see a whole entry or none
        _evict(folder)
    except Exception:  # no home directory, a full disk, a read-only place: then no cache
        return


def _evict(folder: Path) -> None:
    """Keep the newest :data:`KEEP` entries: each engine or rule change adds one."""
    entries = sorted(folder.glob("*.ruleset"), key=lambda path: path.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)


class _Pickler(pickle.Pickler):
    """Stores expressions without their closures, and errors by their fields."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is Expression:  # every field but the closure, which is made on first use
            fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name != "closure"}
            return _expression, (fields,)
        if isinstance(obj, PolicyError):
            return _error, (type(obj), obj.message, obj.span, obj.severity)
        return NotImplemented


def _expression(fields: dict[str, Any]) -> Expression:
    return Expression(**fields)


def _error(kind: type[PolicyError], message: str, span: Any, severity: str) -> PolicyError:
    return kind(message, span, severity=severity)


def _dumps(state: dict[str, Any]) -> bytes:
    import io

    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    return buffer.getvalue()
