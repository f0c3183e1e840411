"""Measurements of predicted objects (exact on a scene with known objects)."""

import csv

import numpy as np

from napari_unet.review.measure import measure_objects, write_csv


def _scene():
    labels = np.zeros((40, 50), np.int32)
    labels[2:12, 3:8] = 1  # 10 x 5 = 50 px
    labels[20:23, 30:40] = 2  # 3 x 10 = 30 px
    labels[30, 45] = 3  # 1 px
    image = np.zeros((40, 50), np.float32)
    image[labels == 1] = 2.0
    image[labels == 2] = 5.0
    image[labels == 3] = 7.0
    return labels, image


def test_count_areas_centroids_and_intensities_are_exact(tmp_path):
    labels, image = _scene()
    table = measure_objects(labels, image, scale=(0.5, 3.0))
    assert list(table["label"]) == [1, 2, 3]
    assert list(table["area_px"]) == [50, 30, 1]
    np.testing.assert_allclose(table["area"], [75.0, 45.0, 1.5])  # 0.5 x 3.0 per pixel
    np.testing.assert_allclose(table["centroid_y"], [6.5, 21.0, 30.0])
    np.testing.assert_allclose(table["centroid_y_units"], [3.25, 10.5, 15.0])
    np.testing.assert_allclose(table["centroid_x_units"], [15.0, 103.5, 135.0])
    np.testing.assert_allclose(table["intensity_mean"], [2.0, 5.0, 7.0])
    path = write_csv(table, tmp_path / "objects.csv")
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == 3 and rows[1]["label"] == "2" and rows[1]["area_px"] == "30"
    assert float(rows[0]["area"]) == 75.0


def test_z_stack_is_measured_slice_by_slice():
    labels, image = _scene()
    table = measure_objects(np.stack([labels, labels[:, ::-1]]), np.stack([image, image]))
    assert list(table["slice"]) == [0, 0, 0, 1, 1, 1] and list(table["area_px"]) == [50, 30, 1] * 2
    assert "intensity_mean" in table
