"""Heron's cost model: gradient-boosted trees over the decision ("knob") vector.

MetaSchedule's own XGBoost model extracts features from the lowered
program, which costs a lowering per candidate.  Heron learns directly from
the values of the design space's variables, so a candidate is scored
without being lowered; this is what makes scoring whole GA populations
cheap (HERON.md section 3, step 2).  The same model tells which variables
matter most: its feature importance picks the GA's key variables (step 3).

Features
--------
The caller builds the matrix: one row per point, either the knob vector
``model.as_tuple(point)`` (feature ``i`` is the ``i``-th variable) or the
engineered columns of :class:`~tvm_heron.search.features.FeatureMap`
(logs, products, footprints; NaN where a column does not apply to a point,
which XGBoost treats as missing).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import xgboost as xgb

__all__ = ["KnobModel", "top_share"]

logger = logging.getLogger(__name__)


def _check_matrix(x: np.ndarray) -> np.ndarray:
    array = np.asarray(x, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"x must be a 2-D matrix (n, d), got shape {array.shape}")
    return array


def top_share(importance: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """The ``max(1, ceil(ratio * d))`` most important of ``d`` entries, most important first.

    Ties are broken at random (one ``rng.permutation`` call).

    Raises
    ------
    ValueError
        If ``ratio`` is outside ``(0, 1]``.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    imp = np.asarray(importance, dtype=float)
    d = imp.size
    # round() first: 0.3 * 10 is 3.0000000000000004 in floating point.
    k = min(d, max(1, math.ceil(round(ratio * d, 9))))
    shuffled = np.asarray(rng.permutation(d))
    order = shuffled[np.argsort(-imp[shuffled], kind="stable")]
    return order[:k].astype(np.int64)


class KnobModel:
    """XGBoost regressor from knob vectors to normalised throughput.

    Parameters
    ----------
    seed : int, optional
        XGBoost's random seed.
    n_estimators : int, optional
        Boosting rounds (trees), default 60.
    max_depth : int, optional
        Maximum tree depth, default 6.
    nthread : int, optional
        XGBoost threads, default 1 (the model is small, and a single
        thread keeps the result independent of scheduling).
    floor : float or None, optional
        Predictions are clipped below at this value (default 0: the
        normalised throughput a roulette wheel reads); None keeps them as
        they come (a log or rank target).

    Raises
    ------
    ValueError
        If ``n_estimators``, ``max_depth`` or ``nthread`` is below 1.

    Notes
    -----
    The objective is ``reg:squarederror`` rather than a ranking objective:
    the GA feeds predictions to a roulette wheel, which needs non-negative
    scores on a meaningful scale (predicted share of the best throughput);
    a ranking objective's scores have an arbitrary offset and scale.
    Predictions are clipped at 0 for the same reason.
    """

    def __init__(
        self, *, seed: int = 0, n_estimators: int = 60, max_depth: int = 6, nthread: int = 1,
        floor: float | None = 0.0,
    ) -> None:
        sizes = (("n_estimators", n_estimators), ("max_depth", max_depth), ("nthread", nthread))
        for name, value in sizes:
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self._n_estimators = int(n_estimators)
        self._params = {
            "objective": "reg:squarederror",
            "tree_method": "hist",  # the fastest exact-enough method on small data
            "max_depth": int(max_depth),
            "eta": 0.2,
            "seed": int(seed),
            "nthread": int(nthread),
            "verbosity": 0,
        }
        self._booster: xgb.Booster | None = None
        self._n_features: int | None = None
        self._floor = floor

    @property
    def is_fitted(self) -> bool:
        """Whether the last :meth:`fit` trained trees (y had >= 2 distinct values)."""
        return self._booster is not None

    @property
    def n_features(self) -> int | None:
        """Number of features of the last fit, or None before any fit."""
        return self._n_features

    def _names(self, d: int) -> list[str]:
        return [f"f{i}" for i in range(d)]

    def _matrix(self, x: np.ndarray, label: np.ndarray | None = None) -> xgb.DMatrix:
        # Named features f0..f{d-1} so get_score() keys map back to columns.
        return xgb.DMatrix(
            x, label=label, feature_names=self._names(x.shape[1]), nthread=self._params["nthread"]
        )

    def fit(self, x: np.ndarray, y: np.ndarray) -> KnobModel:
        """Train on measured points, replacing any previous training.

        Parameters
        ----------
        x : numpy.ndarray, shape (n, d)
            Feature rows (NaN: missing).
        y : numpy.ndarray, shape (n,)
            The target, e.g. normalised throughput in ``[0, 1]`` (best
            measured = 1, 0 for programs that failed to build or run).

        Returns
        -------
        KnobModel
            ``self``.  With fewer than two distinct ``y`` values there is
            nothing to learn: the model stays (or becomes) unfitted.

        Raises
        ------
        ValueError
            If the shapes do not match, ``x`` has an infinite value or ``y``
            a value that is not finite.
        """
        x = _check_matrix(x)
        y = np.asarray(y, dtype=float)
        if y.shape != (x.shape[0],):
            raise ValueError(f"y must have shape ({x.shape[0]},), got {y.shape}")
        if np.any(np.isinf(x)) or not np.all(np.isfinite(y)):
            raise ValueError("x must have no infinite value (NaN is missing) and y must be finite")
        self._n_features = x.shape[1]
        if np.unique(y).size < 2:
            logger.debug("knob model: %d samples with one distinct y, not fitted", y.size)
            self._booster = None
            return self
        data = self._matrix(x, label=y)
        self._booster = xgb.train(self._params, data, num_boost_round=self._n_estimators)
        logger.debug("knob model: fitted on %d x %d", *x.shape)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted normalised throughput of each row.

        Parameters
        ----------
        x : numpy.ndarray, shape (n, d)
            Knob vectors encoded as for :meth:`fit`.

        Returns
        -------
        numpy.ndarray of float, shape (n,)
            Predictions clipped below at ``floor`` (0 by default); all
            zeros when the model is not fitted.

        Raises
        ------
        ValueError
            If ``x`` is not 2-D or, once fitted, has the wrong width.
        """
        x = _check_matrix(x)
        if self._booster is None:
            return np.zeros(x.shape[0])
        if x.shape[1] != self._n_features:
            raise ValueError(
                f"x has {x.shape[1]} features, the model was fitted on {self._n_features}"
            )
        predicted = self._booster.predict(self._matrix(x)).astype(float)
        return predicted if self._floor is None else np.maximum(predicted, self._floor)

    def importance(self, *, n_features: int | None = None) -> np.ndarray:
        """Share of the trees' total gain that each feature contributes.

        Parameters
        ----------
        n_features : int, optional
            Number of features; needed only before any :meth:`fit`.

        Returns
        -------
        numpy.ndarray of float, shape (d,)
            Non-negative, summing to 1; 0 for features no tree splits on;
            uniform when the model is not fitted.

        Notes
        -----
        ``total_gain`` is used rather than XGBoost's default average
        ``gain``: a feature split once with a large gain would otherwise
        outrank one the trees rely on everywhere.
        """
        d = self._width(n_features)
        if self._booster is None:
            return np.full(d, 1.0 / d) if d else np.zeros(0)
        scores = self._booster.get_score(importance_type="total_gain")
        gains = np.array([scores.get(name, 0.0) for name in self._names(d)], dtype=float)
        total = gains.sum()
        # Trees without a single split (possible with tiny data) give no gain.
        return gains / total if total > 0 else np.full(d, 1.0 / d)

    def key_indices(
        self, ratio: float, rng: np.random.Generator, *, n_features: int | None = None
    ) -> np.ndarray:
        """The most important features: Heron's key variables.

        Parameters
        ----------
        ratio : float
            Share of the features wanted, in ``(0, 1]``; at least one comes
            back (``max(1, ceil(ratio * d))``).
        rng : numpy.random.Generator
            Breaks ties between equally important features (one
            ``permutation`` call); when the model is not fitted every
            feature ties, so the result is a random subset.
        n_features : int, optional
            Number of features; needed only before any :meth:`fit`.

        Returns
        -------
        numpy.ndarray of int
            Feature indices, most important first.

        Raises
        ------
        ValueError
            If ``ratio`` is outside ``(0, 1]``.
        """
        return top_share(self.importance(n_features=n_features), ratio, rng)  # checks ratio

    def _width(self, n_features: int | None) -> int:
        if self._n_features is None:
            if n_features is None:
                raise ValueError("n_features is required before the model has seen any data")
            if n_features < 0:
                raise ValueError(f"n_features must be >= 0, got {n_features}")
            return int(n_features)
        if n_features is not None and n_features != self._n_features:
            raise ValueError(
                f"n_features is {n_features}, the model was fitted on {self._n_features}"
            )
        return self._n_features
