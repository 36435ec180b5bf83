"""``python -m engine`` is the ``decree`` command."""

from engine.cli import main

main()
