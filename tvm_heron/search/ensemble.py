"""A small bootstrap ensemble of knob models: a prediction and its uncertainty (no TVM).

Each member is a :class:`~tvm_heron.search.knob_model.KnobModel` trained on a
bootstrap resample of the measurements (drawn from a seeded generator); the
spread of the members' predictions says where the model knows little. A
strategy can then pick optimistically, by ``mean + kappa * std`` (an upper
confidence bound), measuring the programs the model is unsure about and
might be good before those it is sure are mediocre.
"""

from __future__ import annotations

import numpy as np

from .knob_model import KnobModel

__all__ = ["KnobEnsemble"]


class KnobEnsemble:
    """``size`` knob models on bootstrap resamples; the interface of :class:`KnobModel`.

    Parameters
    ----------
    size : int
        Members (>= 2).
    seed : int
        Seeds the resamples and the members.
    **kwargs
        The members' :class:`KnobModel` arguments (``floor``, ``n_estimators``...).

    Raises
    ------
    ValueError
        If ``size`` is below 2.
    """

    def __init__(self, size: int = 5, *, seed: int = 0, **kwargs) -> None:
        if size < 2:
            raise ValueError(f"size must be >= 2, got {size}")
        self._rng = np.random.default_rng(seed)
        self.members = [KnobModel(seed=seed + i, **kwargs) for i in range(size)]
        self._all = KnobModel(seed=seed, **kwargs)  # on every point: importance and a fallback

    @property
    def is_fitted(self) -> bool:
        """Whether the model on all the data is fitted."""
        return self._all.is_fitted

    @property
    def n_features(self) -> int | None:
        """Number of features of the last fit."""
        return self._all.n_features

    def fit(self, x: np.ndarray, y: np.ndarray) -> KnobEnsemble:
        """Fit the model on all the data and each member on a bootstrap resample of it."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        self._all.fit(x, y)
        for member in self.members:
            rows = self._rng.integers(0, len(y), size=len(y))
            member.fit(x[rows], y[rows])
        return self

    def predict_with_std(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over the fitted members (std 0 with fewer than two)."""
        fitted = [m for m in self.members if m.is_fitted]
        if len(fitted) < 2:
            return self._all.predict(x), np.zeros(len(x))
        predictions = np.stack([m.predict(x) for m in fitted])
        return predictions.mean(axis=0), predictions.std(axis=0)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The members' mean prediction."""
        return self.predict_with_std(x)[0]

    def importance(self, *, n_features: int | None = None) -> np.ndarray:
        """Feature importance of the model fitted on all the data."""
        return self._all.importance(n_features=n_features)
