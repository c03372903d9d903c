"""The trip-booking example, shipped inside the package for ``sagas demo``.

``workflows.py`` and ``activities.py`` here are links to ``examples/trip_booking``: one
source, which the repository's example tests run end to end and the installed
``sagas demo`` runs as is. The wheel carries copies of the linked files.
"""
