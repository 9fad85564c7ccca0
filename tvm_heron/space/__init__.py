"""Design spaces: Heron's space generator and the constraint model of any trace."""

from .analysis import analyze
from .generator import heron_mutator_probs, heron_postprocs, heron_space
from .model import SamplingSite, SpaceModel
from .replay import PostprocFailedError, postprocess, replay

__all__ = [
    "PostprocFailedError",
    "SamplingSite",
    "SpaceModel",
    "analyze",
    "heron_mutator_probs",
    "heron_postprocs",
    "heron_space",
    "postprocess",
    "replay",
]
