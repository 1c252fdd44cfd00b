"""``make_captures.py`` runs in openadapt-capture's own throwaway virtualenv, not here."""

collect_ignore = ["make_captures.py"]
