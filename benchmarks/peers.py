"""Side by side with what a team would pick instead: our pipeline, fastText, spaCy's textcat.

    .venv/bin/python benchmarks/peers.py [--markdown README-peers.md] [--chart peers.png]

Every system is trained on our train split and scored on the frozen test split, each in its own
process pinned to one core (so peak memory and speed are its own). Heads a peer cannot serve as
one model are trained one per head (category, is_hard, urgency). Columns: macro-F1 of category
and is_hard (F1 of the hard class), critical recall, training time, messages/s predicting 10,000
messages, single-message latency p50, model size on disk, peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = ("ours", "fasttext", "spacy-bow", "spacy-ensemble")
# The heads compared: the library's, less the reporter (the peers would need a model more).
COMPARED = ("category", "is_hard", "urgency")


def split_corpus():
    from pettriage.classifier.dataset import load_corpus
    from pettriage.training.split import split

    return split(
        load_corpus(ROOT / "data" / "annotated"), ROOT / "data" / "splits" / "test_ids.txt"
    )[:2]


def labels_of(records: list[dict]) -> dict[str, list[str]]:
    """Each compared head's labels, as the library's heads name them (`is_hard`: "true")."""
    from pettriage.classifier.records import head_labels_of

    return {head: labels for head, labels in head_labels_of(records).items() if head in COMPARED}


def score(test: list[dict], predicted: dict[str, list[str]]) -> dict:
    """The library's own per-head report (`metrics.head_report`) on the compared heads."""
    from pettriage.classifier.metrics import head_report

    report = {
        head: head_report(head, truth, predicted[head]) for head, truth in labels_of(test).items()
    }
    return {
        "category_macro_f1": report["category"]["macro_f1"],
        "is_hard_f1": report["is_hard"]["per_class"]["true"]["f1"],
        "critical_recall": report["urgency"]["per_class"]["critical"]["recall"],
    }


# -- the systems ---------------------------------------------------------------------------------
class Ours:
    def train(self, train, folder):
        from pettriage.classifier import artifact
        from pettriage.classifier.model import ComplaintClassifier
        from pettriage.classifier.safety import SafetyRules

        self.model = ComplaintClassifier.fit(train).with_rules(SafetyRules.load())
        path = folder / "model.joblib"
        artifact.save(self.model, path)
        return path.stat().st_size

    def predict(self, texts):
        from pettriage.classifier.records import Message

        decisions = self.model.map(Message(t) for t in texts)
        return {
            "category": [d.category for d in decisions],
            "is_hard": [str(d.is_hard).lower() for d in decisions],
            "urgency": [d.urgency for d in decisions],
        }


class FastText:
    """fastText supervised with word bigrams and character n-grams, one model per head.

    The settings are the best of four tried for the category head (an advantage to the peer:
    they were compared on the test split); fastText's defaults give category macro-F1 0.54."""

    def train(self, train, folder):
        import fasttext

        from pettriage.classifier.normalize import normalize

        self.models, size = {}, 0
        for head, labels in labels_of(train).items():
            data = folder / f"{head}.txt"
            data.write_text(
                "".join(
                    f"__label__{y} {normalize(r['text'])}".replace("\n", " ") + "\n"
                    for r, y in zip(train, labels, strict=True)
                ),
                encoding="utf-8",
            )
            model = fasttext.train_supervised(
                str(data),
                epoch=50,
                lr=1.0,
                wordNgrams=2,
                minn=3,
                maxn=5,
                dim=50,
                bucket=200_000,
                thread=1,
                verbose=0,
            )
            model.save_model(str(folder / f"{head}.bin"))
            size += (folder / f"{head}.bin").stat().st_size
            self.models[head] = model
        return size

    def predict(self, texts):
        from pettriage.classifier.normalize import normalize

        clean = [normalize(t).replace("\n", " ") for t in texts]
        return {
            head: [labels[0].removeprefix("__label__") for labels in model.predict(clean)[0]]
            for head, model in self.models.items()
        }


class SpacyTextcat:
    """spaCy's own text classifier on `spacy.blank("ru")`, one pipeline per head."""

    def __init__(self, architecture: str, epochs: int):
        self.architecture, self.epochs = architecture, epochs

    def train(self, train, folder):
        import random

        import spacy
        from spacy.training import Example

        self.pipelines, size = {}, 0
        for head, truth in labels_of(train).items():
            labels = sorted(set(truth))
            nlp = spacy.blank("ru")
            config = {
                "model": {
                    "@architectures": "spacy.TextCatBOW.v3",
                    "exclusive_classes": True,
                    "ngram_size": 2,
                    "no_output_layer": False,
                }
            }
            textcat = nlp.add_pipe("textcat", config=config if self.architecture == "bow" else {})
            for name in labels:
                textcat.add_label(name)
            examples = [
                Example.from_dict(
                    nlp.make_doc(r["text"]),
                    {"cats": {name: float(name == y) for name in labels}},
                )
                for r, y in zip(train, truth, strict=True)
            ]
            optimizer = nlp.initialize(lambda examples=examples: examples)
            rng = random.Random(0)
            for _ in range(self.epochs):
                rng.shuffle(examples)
                for start in range(0, len(examples), 32):
                    nlp.update(examples[start : start + 32], sgd=optimizer)
            nlp.to_disk(folder / head)
            size += sum(f.stat().st_size for f in (folder / head).rglob("*") if f.is_file())
            self.pipelines[head] = nlp
        return size

    def predict(self, texts):
        return {
            head: [max(doc.cats, key=doc.cats.get) for doc in nlp.pipe(texts, batch_size=256)]
            for head, nlp in self.pipelines.items()
        }


def system(name: str):
    return {
        "ours": Ours,
        "fasttext": FastText,
        "spacy-bow": lambda: SpacyTextcat("bow", 10),
        "spacy-ensemble": lambda: SpacyTextcat("ensemble", 5),
    }[name]()


def run_one(name: str) -> dict:
    """Train, score and time one system in this process (pinned to one core)."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    train, test = split_corpus()
    peer = system(name)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        size = peer.train(train, Path(folder))
        train_seconds = time.perf_counter() - started
        figures = score(test, peer.predict([r["text"] for r in test]))
        texts = [r["text"] for r in (test * (10_000 // len(test) + 1))[:10_000]]
        started = time.perf_counter()
        peer.predict(texts)
        throughput = len(texts) / (time.perf_counter() - started)
        single = []
        for text in texts[:200]:
            started = time.perf_counter()
            peer.predict([text])
            single.append(time.perf_counter() - started)
    single.sort()
    return {
        "system": name,
        **figures,
        "train_s": train_seconds,
        "msgs_per_s": throughput,
        "p50_ms": single[len(single) // 2] * 1000,
        "size_mb": size / 1e6,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| system | category macro-F1 | is_hard F1 | critical recall | training s | "
        "msgs/s (10,000, one core) | latency p50 ms | size MB | peak memory MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['system']} | {r['category_macro_f1']:.3f} | {r['is_hard_f1']:.3f} | "
            f"{r['critical_recall']:.1%} | {r['train_s']:.0f} | {r['msgs_per_s']:.0f} | "
            f"{r['p50_ms']:.2f} | {r['size_mb']:.1f} | {r['peak_mb']:.0f} |"
        )
    return "\n".join(lines)


def chart(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (quality, speed) = plt.subplots(1, 2, figsize=(10, 3.6))
    names = [r["system"] for r in rows]
    for offset, key in enumerate(("category_macro_f1", "is_hard_f1", "critical_recall")):
        quality.bar(
            [i + offset * 0.27 for i in range(len(rows))],
            [r[key] for r in rows],
            width=0.27,
            label=key,
        )
    quality.set_xticks([i + 0.27 for i in range(len(rows))], names, rotation=15)
    quality.set_ylim(0.5, 1.0)
    quality.legend(fontsize=7)
    quality.set_title("quality on the frozen test split")
    speed.bar(names, [r["msgs_per_s"] for r in rows])
    speed.set_yscale("log")
    speed.set_title("messages per second, one core")
    speed.tick_params(axis="x", rotation=15)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one", choices=PEERS, help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", choices=PEERS, default=list(PEERS))
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--chart", type=Path, help="also draw a PNG chart here")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    rows = []
    for name in args.only:
        env = os.environ | {
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        out = subprocess.run(
            [sys.executable, __file__, "--one", name],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{name}: done", file=sys.stderr)
    print(table(rows))
    if args.markdown:
        args.markdown.write_text(table(rows) + "\n", encoding="utf-8")
    if args.chart:
        chart(rows, args.chart)


if __name__ == "__main__":
    main()
