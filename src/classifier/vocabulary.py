"""A fitted TF-IDF vocabulary as plain data: what `FeatureBuilder.transform` reads, and how it is
stored in a model file (`artifact`) without scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class FittedVocabulary:
    """What `FeatureBuilder.transform` reads of a fitted TfidfVectorizer, under the same names:
    n-gram → column, and the IDF weights."""

    vocabulary_: dict[str, int]
    idf_: np.ndarray

    @classmethod
    def from_terms(cls, terms: np.ndarray, idf: np.ndarray) -> FittedVocabulary:
        if len(terms) != len(idf):
            raise ValueError(f"Expected one IDF weight per n-gram, got {len(idf)} for {len(terms)}")
        return cls(dict(zip(terms.tolist(), range(len(terms)), strict=True)), idf)


def terms_of(vocabulary: dict[str, int]) -> np.ndarray:
    """A vocabulary's n-grams in column order, as a numpy unicode array."""
    ordered = sorted(vocabulary, key=vocabulary.__getitem__)
    if [vocabulary[t] for t in ordered] != list(range(len(ordered))):
        raise ValueError("Expected a vocabulary numbering its columns 0…n-1")
    terms = np.array(ordered, dtype=str)
    if terms.tolist() != ordered:  # numpy drops trailing NUL characters
        raise ValueError("A vocabulary n-gram ends in a NUL character and cannot be stored")
    return terms
