from pathlib import Path

import napari_unet

ROOT = Path(__file__).resolve().parents[1]


def test_root_manifest_is_identical_to_the_packaged_one():
    packaged = Path(napari_unet.__file__).parent / "napari.yaml"
    assert packaged.is_file()
    assert (ROOT / "napari.yaml").read_text() == packaged.read_text()


def test_manifest_is_valid_and_its_commands_import():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-unet")
    manifest.validate_imports()
    ids = {c.id for c in manifest.contributions.commands}
    assert {"napari-unet.make_widget", "napari-unet.sample_cells"} <= ids
