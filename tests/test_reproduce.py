import pytest

from aeapp import checkpoint
from aeapp.image_io import save_image
from train import reproduce

from .conftest import make_photo

TINY = ["--steps", "1", "--", "--batch-size", "2", "--crop", "32", "--crop-max", "0", "--val-images", "1",
        "--val-every", "1000", "--save-every", "1000", "--log-every", "1000"]


def test_recipe_chains_each_network_from_its_own_earlier_stages():
    recipe = reproduce.load_recipe()
    names = [s["name"] for s in recipe["stage"]]
    assert {s["network"] for s in recipe["stage"]} == {"fill", "restore"}
    assert all(names.index(s["init"]) < names.index(s["name"]) for s in recipe["stage"] if s.get("init"))
    assert recipe["ship"] == {**recipe["ship"], "fill": "fill-ft9", "restore": "restore-real"}


def test_a_recipe_whose_stage_starts_from_a_later_one_is_refused(tmp_path):
    bad = tmp_path / "recipe.toml"
    bad.write_text('data = "d"\nval_data = "v"\n[common]\nfill = []\nrestore = []\n'
                   '[[stage]]\nname = "a"\nnetwork = "fill"\ninit = "b"\nsteps = 1\nargs = []\n'
                   '[[stage]]\nname = "b"\nnetwork = "fill"\nsteps = 1\nargs = []\n'
                   '[ship]\nfill = "b"\nrestore = "b"\nargs = []\n')
    with pytest.raises(ValueError, match="not an earlier fill stage"):
        reproduce.load_recipe(bad)


def test_the_recipe_on_a_tiny_budget_packs_a_checkpoint_and_resumes_without_retraining(tmp_path, capsys):
    data = tmp_path / "data"
    for i in range(2):
        save_image(make_photo(48, 64, seed=i), data / f"{i}.png")
    out = tmp_path / "runs"
    args = ["--out", str(out), "--data", str(data), "--val-data", str(data), *TINY]
    packed = reproduce.main(args)
    networks, info = checkpoint.load(packed)
    assert set(networks) == {"fill", "restore"}
    assert networks["fill"].inference.prefill == "telea_ns_band" and networks["fill"].config.refine_channels == 16
    assert networks["restore"].config.unshuffle == 2 and networks["restore"].inference.noisy_skip_levels == (1, 2)
    # The fill network's lineage runs back through every fill stage of the recipe.
    depth, record = 0, info["networks"]["fill"]
    while "init_from" in record:
        depth, record = depth + 1, record["init_from"]
    assert depth >= 1 and reproduce.steps_done(out / "fill-ft9") == 1
    capsys.readouterr()
    mtime = (out / "fill" / "last.safetensors").stat().st_mtime_ns
    reproduce.main(args)  # everything done: every stage is skipped, the file packed again
    printed = capsys.readouterr().out
    assert printed.count(": done (1 steps)") == len(reproduce.load_recipe()["stage"])
    assert (out / "fill" / "last.safetensors").stat().st_mtime_ns == mtime


def test_dry_run_prints_each_stage_with_its_recorded_steps(tmp_path, capsys):
    reproduce.main(["--out", str(tmp_path), "--dry-run"])
    printed = capsys.readouterr().out
    assert "fill-ft9: python -m train.train" in printed and "--steps 10876" in printed
    assert "--init-from " + str(tmp_path / "restore-ft5" / "last.safetensors") in printed
    assert "pack: python -m train.ship" in printed and not any(tmp_path.iterdir())
