"""Where to paint next (engine): places ranked by the uncertainty away from edges and strokes."""

import numpy as np

from napari_unet.review.suggest import suggest_places


def at(place, y, x, z=0, tolerance=2) -> bool:
    return place.z == z and abs(place.y - y) <= tolerance and abs(place.x - x) <= tolerance


def hot(shape=(200, 200), spots=((50, 60, 0.9), (150, 140, 0.6))):
    u = np.full(shape, 0.02, np.float32)
    for y, x, v in spots:
        u[y - 15 : y + 15, x - 15 : x + 15] = v
    return u


def test_the_most_undecided_area_comes_first_and_places_keep_apart():
    places = suggest_places(hot(), window=32)
    assert at(places[0], 50, 60) and at(places[1], 150, 140)
    assert places[0].score > places[1].score > 0.3
    for a in places:
        for b in places:
            assert a is b or max(abs(a.y - b.y), abs(a.x - b.x)) > 32


def test_painted_areas_and_the_predictions_edges_are_left_out():
    u = hot()
    strokes = np.zeros(u.shape, np.uint8)
    strokes[35:65, 45:75] = 1  # the first spot is painted already
    first = suggest_places(u, strokes=strokes, window=32)[0]
    assert at(first, 150, 140)

    edge_only = np.full((200, 200), 0.02, np.float32)
    labels = np.ones((200, 200), np.uint8)
    labels[:, 100:] = 2
    edge_only[:, 99:101] = 1.0  # undecided only along the predicted edge: no stroke fixes that
    edge_only[20:50, 20:50] = 0.5
    with_labels = suggest_places(edge_only, labels, window=32)
    assert len(with_labels) == 1 and at(with_labels[0], 35, 35)
    without = suggest_places(edge_only, window=32)  # without the labels the edge is suggested too
    assert any(84 <= p.x <= 116 for p in without)


def test_a_sure_model_gets_no_suggestion_and_stacks_give_the_slice():
    assert suggest_places(np.zeros((64, 64), np.float32)) == []
    stack = np.stack([hot(spots=()), hot(spots=((100, 100, 0.8),))])
    place = suggest_places(stack, count=1, window=32)[0]
    assert at(place, 100, 100, z=1)


def test_places_away_from_the_strokes_come_first():
    u = hot()  # the best spot at (50, 60), the second at (150, 140)
    strokes = np.zeros(u.shape, np.uint8)
    strokes[50:52, 60:62] = 2  # a dab in the middle of the best spot
    assert at(suggest_places(u, strokes=strokes, window=32, away=False)[0], 50, 60)
    away = suggest_places(u, strokes=strokes, window=32)
    assert at(away[0], 150, 140) and at(away[1], 50, 60, tolerance=20)  # still offered, after
