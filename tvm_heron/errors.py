"""Errors raised for what tvm_heron does not support, each naming the problem."""


class HeronError(ValueError):
    """Base class of the errors of tvm_heron (a ValueError: bad input)."""


class UnsupportedOperatorError(HeronError):
    """The operator has no definition or no rule in tvm_heron."""


class UnsupportedDtypeError(HeronError):
    """The rule cannot tensorize the operator at this data type."""


class UnsupportedTargetError(HeronError):
    """The target lacks what the rule needs (e.g. AVX-512 VNNI)."""


class InvalidShapeError(HeronError):
    """The shape has the wrong arity, a non-positive extent, or a bad multiple."""


class InfeasibleSpaceError(HeronError):
    """The constraint model of a design space has no solution."""


class UnanalyzableSpaceError(HeronError):
    """The constraint analysis cannot follow a design space's trace."""


class ReplayRepairedError(HeronError):
    """Replaying a point changed one of its decisions: the point was not valid."""


class DatabaseError(HeronError):
    """A tuning database that cannot be used: not one of ours, newer, or damaged."""


class BadInputError(HeronError):
    """An argument that is out of range or inconsistent with the others."""


class RPCUnavailableError(HeronError):
    """No RPC server could be reached for the key within the bounded wait."""
