"""The model card is read by the Hugging Face Hub: its front matter must parse into the
model-index the Hub expects, with datasets named by their Hub ids."""

from pathlib import Path

import yaml

CARD = Path(__file__).resolve().parent.parent / "checkpoints" / "README.md"
DATASET_KEYS = {"type", "name", "config", "split", "revision", "args"}


def _front_matter() -> dict:
    text = CARD.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_the_cards_model_index_parses_into_what_the_hub_reads():
    meta = _front_matter()
    assert all("/" in d for d in meta["datasets"]), meta["datasets"]  # Hub dataset ids, owner/name
    results = meta["model-index"][0]["results"]
    assert results
    for result in results:
        dataset = result["dataset"]
        assert set(dataset) <= DATASET_KEYS and "/" in dataset["type"] and dataset["type"] in meta["datasets"], dataset
        assert isinstance(dataset.get("split", ""), str) and isinstance(result["task"]["type"], str)
        for metric in result["metrics"]:
            assert set(metric) == {"type", "name", "value"} and isinstance(metric["value"], (int, float)), metric


def test_the_card_stays_short():
    assert CARD.stat().st_size < 8 * 1024
