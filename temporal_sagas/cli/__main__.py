"""``python -m temporal_sagas.cli``: the ``sagas`` command, without the console script."""

from temporal_sagas.cli import main

main()
