"""Four calibrated linear heads over the shared features.

Each head is a linear SVM wrapped in sigmoid (Platt) calibration, so its probabilities can be
read as confidences; the averaged weights of the calibrated folds explain its decisions. On this
corpus the SVM beat logistic regression on macro-F1 and fits six times faster.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC


class LinearHead(ClassifierMixin, BaseEstimator):
    """A calibrated linear SVM whose columns follow a fixed label order.

    `labels` fixes the order of `predict_proba` columns, so a label missing from a small
    training set still has its column (with probability 0).
    """

    def __init__(
        self,
        labels: tuple[str, ...] = (),
        C: float = 0.5,
        calibration_folds: int = 3,
        random_state: int = 0,
    ):
        self.labels = labels
        self.C = C
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    def fit(self, X: sp.csr_matrix, y: list[str]) -> LinearHead:
        y = np.asarray(y)
        unknown = sorted(set(y) - set(self.labels))
        if unknown:
            raise ValueError(f"Expected labels among {self.labels}, got {unknown}")
        base = LinearSVC(C=self.C, class_weight="balanced", random_state=self.random_state)
        folds = min(self.calibration_folds, int(np.unique(y, return_counts=True)[1].min()))
        if folds >= 2:
            self.model_ = CalibratedClassifierCV(base, method="sigmoid", cv=folds).fit(X, y)
            estimators = [c.estimator for c in self.model_.calibrated_classifiers_]
        else:  # too few examples of some label to calibrate: the SVM's own scores, softmaxed
            self.model_ = base.fit(X, y)
            estimators = [self.model_]
        self.classes_ = np.asarray(self.labels)
        self._columns = [
            list(self.model_.classes_).index(label) if label in self.model_.classes_ else -1
            for label in self.labels
        ]
        self.coef_ = self._label_weights(estimators)
        return self

    def _label_weights(self, estimators) -> np.ndarray:
        """Weights per label (rows in `labels` order), averaged over the calibrated folds."""
        coef = np.mean([e.coef_ for e in estimators], axis=0)
        fitted = list(estimators[0].classes_)
        if coef.shape[0] == 1:  # binary: one row for the second class
            coef = np.vstack([-coef[0], coef[0]])
        weights = np.zeros((len(self.labels), coef.shape[1]), dtype=np.float32)
        for row, label in enumerate(self.labels):
            if label in fitted:
                weights[row] = coef[fitted.index(label)]
        return weights

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        if hasattr(self.model_, "predict_proba"):
            fitted = self.model_.predict_proba(X)
        else:
            fitted = _softmax(self.model_.decision_function(X))
        proba = np.zeros((X.shape[0], len(self.labels)))
        for column, source in enumerate(self._columns):
            if source >= 0:
                proba[:, column] = fitted[:, source]
        return proba

    def predict(self, X: sp.csr_matrix) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _softmax(scores: np.ndarray) -> np.ndarray:
    if scores.ndim == 1:  # binary: one score for the second class
        scores = np.column_stack([-scores, scores])
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)
