"""Stand-ins shared by the search tests (plain Python, imported as ``search_stubs``)."""

from __future__ import annotations


class RecordingSolver:
    """Stands in for CpSatSolver: records the query, answers with the hint."""

    def __init__(self, model):
        self.model = model
        self.query = None

    def solve(self, *, restrict=None, hint=None, seed=0):
        self.query = {"restrict": restrict, "hint": hint, "seed": seed}
        return dict(hint)
