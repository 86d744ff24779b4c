"""The frozen test split: chosen once, seeded and stratified, then only ever read.

The ids live in a committed text file, so every later training and every promotion gate is
judged on the same messages, and records added later always go to training (a correction of a
test record replaces it in the test split).
"""

from __future__ import annotations

from pathlib import Path


def make_test_ids(records: list[dict], seed: int, test_size: float) -> list[str]:
    # Imported here: the service imports this module through the registry, and scikit-learn
    # brings pandas and pyarrow into every worker (classifier/metrics.py).
    from sklearn.model_selection import train_test_split

    ids = [r["id"] for r in records]
    strata = [r["category"] for r in records]
    _, test = train_test_split(ids, test_size=test_size, random_state=seed, stratify=strata)
    return sorted(test)


def _split_id(record: dict) -> str:
    """A correction of an annotated record stays on that record's side of the split."""
    if record.get("corrects") and record.get("corrects_kind", "annotated") == "annotated":
        return record["corrects"]
    return record["id"]


def split(
    records: list[dict], test_ids_path: Path, seed: int = 42, test_size: float = 0.2
) -> tuple[list[dict], list[dict], bool]:
    """(train, test, created): reads the split file, or writes it on the first training."""
    created = not test_ids_path.exists()
    if created:
        test_ids_path.parent.mkdir(parents=True, exist_ok=True)
        test_ids_path.write_text("\n".join(make_test_ids(records, seed, test_size)) + "\n")
    test_ids = {line.strip() for line in test_ids_path.read_text().splitlines() if line.strip()}
    test_side = [_split_id(r) in test_ids for r in records]
    train = [r for r, side in zip(records, test_side, strict=True) if not side]
    test = [r for r, side in zip(records, test_side, strict=True) if side]
    if not test:
        raise ValueError(
            f"None of the ids in {test_ids_path} is in the corpus; delete the file "
            "to draw a new split, or restore the records it names."
        )
    return train, test, created
