"""``python -m engine`` is the ``decree`` command."""

from .cli import main

main()
