import numpy as np
import pytest
import torch

from napari_unet.core.config import TrainConfig, UserInputError
from napari_unet.core.record import ModelInfo
from napari_unet.core.train import fit, train


def _weights(model):
    return {k: v.detach().clone() for k, v in model.net.state_dict().items()}


def test_loss_falls_on_a_synthetic_scene(sample, tiny_model_config):
    cfg = TrainConfig(steps=80, batch_size=4, patch_size=64, seed=0, device="cpu")
    losses = [e.loss for e in train(sample.image, sample.strokes, cfg, model_config=tiny_model_config)]
    assert len(losses) == 80
    assert np.mean(losses[-15:]) < 0.6 * np.mean(losses[:15])


def test_events_report_progress(sample, tiny_model_config, tiny_train_config):
    events = list(train(sample.image, sample.strokes, tiny_train_config, model_config=tiny_model_config))
    assert [e.step for e in events] == list(range(1, 31))
    assert events[-1].progress == pytest.approx(1.0)
    assert all(e.elapsed > 0 and e.steps_per_s > 0 and e.pixels_per_s > 0 for e in events)
    assert events[-1].model.steps_trained == 30


def test_stopping_keeps_the_weights_trained_so_far(sample, tiny_model_config):
    gen = train(sample.image, sample.strokes, TrainConfig(steps=1000, patch_size=64, device="cpu"),
                model_config=tiny_model_config)
    first = next(gen)
    before = _weights(first.model)
    for event in gen:
        if event.step == 10:
            break
    gen.close()
    model = event.model
    assert model.steps_trained == 10
    after = _weights(model)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert not model.net.training  # left ready for prediction


def test_should_stop_ends_training_with_a_result(sample, tiny_model_config):
    calls = iter(range(100))
    gen = train(sample.image, sample.strokes, TrainConfig(steps=1000, patch_size=64, device="cpu"),
                model_config=tiny_model_config, should_stop=lambda: next(calls) >= 5)
    events = []
    try:
        while True:
            events.append(next(gen))
    except StopIteration as done:
        result = done.value
    assert result.stopped and result.steps == 5 == len(events)


def test_time_budget_ends_training(sample, tiny_model_config):
    cfg = TrainConfig(steps=None, time_budget=1.5, patch_size=64, device="cpu")
    result = fit(sample.image, sample.strokes, cfg, model_config=tiny_model_config)
    assert 1.5 <= result.elapsed < 5 and result.steps > 1 and not result.stopped


def test_fine_tuning_continues_the_same_model(sample, tiny_model_config, tiny_train_config):
    first = fit(sample.image, sample.strokes, tiny_train_config, model_config=tiny_model_config)
    second = fit(sample.image, sample.strokes, tiny_train_config, model=first.model)
    assert second.model is first.model
    assert second.model.steps_trained == 60
    assert second.model.history.runs == 2
    painted = {v: int(np.count_nonzero(sample.strokes == v)) for v in second.model.class_values}
    assert second.model.history.painted_pixels == painted


def test_one_step_of_fine_tuning_predicts_like_its_starting_model(sample, trained):
    """Fine-tuning carries on from the model's weights: after one step it predicts as before,
    while a fresh network after the same step does not."""
    import copy

    from scores import prediction_change

    cfg = TrainConfig(steps=1, batch_size=4, patch_size=64, seed=0, device="cpu")
    tuned = fit(sample.image, sample.strokes, cfg, model=copy.deepcopy(trained)).model
    fresh = fit(sample.image, sample.strokes, cfg, model_config=trained.config).model
    same, change = prediction_change(trained, tuned, sample.image)
    assert same > 0.95 and change < 0.02, (same, change)
    same, change = prediction_change(trained, fresh, sample.image)
    assert same < 0.6 and change > 0.2, (same, change)


def test_same_seed_same_model(sample, tiny_model_config):
    cfg = TrainConfig(steps=5, patch_size=64, device="cpu", seed=3)
    a = fit(sample.image, sample.strokes, cfg, model_config=tiny_model_config).model
    b = fit(sample.image, sample.strokes, cfg, model_config=tiny_model_config).model
    for (k, va), vb in zip(_weights(a).items(), _weights(b).values()):
        assert torch.allclose(va, vb), k


def test_fine_tuning_refuses_unknown_classes_and_wrong_channels(sample, trained, tiny_train_config):
    """(A colour image is converted for a grey model, test_colour.py; two channels are refused.)"""
    strokes = sample.strokes.copy()
    strokes[:3, :3] = 7
    with pytest.raises(UserInputError, match=r"label value\(s\) \[7\]"):
        fit(sample.image, strokes, tiny_train_config, model=trained)
    two = np.stack([sample.image] * 2, axis=-1)[None]  # (Z, Y, X, C)
    with pytest.raises(UserInputError, match="1 channel"):
        fit(two, sample.strokes[None], tiny_train_config, model=trained)


def test_z_stack_trains_on_the_slices_with_strokes(sample, tiny_model_config, tiny_train_config):
    stack = np.stack([sample.image, sample.image[::-1], sample.image[:, ::-1]])
    strokes = np.zeros(stack.shape, np.uint8)
    strokes[1] = sample.strokes[::-1]
    result = fit(stack, strokes, tiny_train_config, model_config=tiny_model_config)
    assert result.steps == 30 and np.isfinite(result.loss)


def test_rgb_and_float_images_train(sample, tiny_model_config, tiny_train_config):
    rgb = np.stack([sample.image, sample.image // 2, sample.image // 3], axis=-1)
    m = fit(rgb, sample.strokes, tiny_train_config, model_config=tiny_model_config).model
    assert m.config.in_channels == 3
    f = fit(sample.image.astype(np.float32) / 7.0, sample.strokes, tiny_train_config, model_config=tiny_model_config)
    assert np.isfinite(f.loss)


def test_fused_optimizer_updates_like_the_plain_one(tiny_model_config, tiny_train_config):
    """The fused AdamW used for speed takes the same steps as the per-parameter loop."""
    import copy

    import torch

    from napari_unet.core.model import UNet
    from napari_unet.core.loop import make_optimizer

    torch.manual_seed(0)
    net = UNet(tiny_model_config)
    plain = copy.deepcopy(net)
    fused_opt = make_optimizer(net, tiny_train_config, torch.device("cpu"))
    assert fused_opt.defaults["fused"]  # torch >= 2.4 fuses AdamW on the CPU
    plain_opt = torch.optim.AdamW(plain.parameters(), lr=tiny_train_config.learning_rate,
                                  weight_decay=tiny_train_config.weight_decay, foreach=False)
    x = torch.randn(2, 1, 32, 32)
    for _ in range(3):
        for model, opt in ((net, fused_opt), (plain, plain_opt)):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
    for a, b in zip(net.parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_several_images_train_one_model_from_all_their_strokes(sample, tiny_model_config, tiny_train_config):
    """Strokes of class 1 on one image only and of class 2 on the other: one model with both classes."""
    only_bg = np.where(sample.strokes == 1, 1, 0).astype(np.uint8)
    only_fg = np.where(sample.strokes == 2, 2, 0).astype(np.uint8)
    result = fit([sample.image, sample.image[::-1]], [only_bg, only_fg[::-1]], tiny_train_config,
                 model_config=tiny_model_config)
    assert result.model.class_values == (1, 2) and result.steps == tiny_train_config.steps


def test_several_images_with_mismatched_counts_or_channels_are_clear_errors(sample, tiny_train_config):
    with pytest.raises(UserInputError, match="2 image.*but 1 label"):
        fit([sample.image, sample.image], [sample.strokes], tiny_train_config)
    rgb = np.stack([sample.image] * 3, axis=-1)
    with pytest.raises(UserInputError, match="channel"):
        fit([sample.image, rgb], [sample.strokes, sample.strokes], tiny_train_config)


def test_keep_term_is_zero_where_the_model_agrees_with_its_start_and_ignores_strokes():
    import torch

    from napari_unet.core.losses import keep_loss

    logits = torch.randn(2, 3, 8, 8)
    unpainted = torch.full((2, 8, 8), -1)
    assert float(keep_loss(logits, torch.softmax(logits, 1), unpainted)) == pytest.approx(0.0, abs=1e-6)
    other = torch.softmax(torch.randn(2, 3, 8, 8), 1)
    assert float(keep_loss(logits, other, unpainted)) > 0.01
    painted = torch.zeros((2, 8, 8), dtype=torch.long)  # every pixel carries a stroke: nothing to keep
    assert float(keep_loss(logits, other, painted)) == 0.0


def test_fine_tuning_a_base_model_ends_with_its_weights_mixed_in(sample, trained):
    """The fine-tuned result is (1 - s) * trained + s * starting weights; a model that is not a
    base model (or one fine-tuned from it) is left as trained."""
    import copy

    def weights(model):
        return {k: v.clone() for k, v in model.net.state_dict().items() if v.is_floating_point()}

    base = copy.deepcopy(trained)
    base.info = ModelInfo(name="base", class_names={1: "background", 2: "cells"})
    start = weights(base)
    result = {}
    for share in (0.0, 0.25):
        cfg = TrainConfig(steps=5, batch_size=2, patch_size=64, seed=0, device="cpu", base_share=share)
        result[share] = fit(sample.image, sample.strokes, cfg, model=copy.deepcopy(base)).model
    tuned, mixed = weights(result[0.0]), weights(result[0.25])
    assert any(not torch.equal(tuned[k], start[k]) for k in tuned)
    for k in tuned:
        torch.testing.assert_close(mixed[k], 0.75 * tuned[k] + 0.25 * start[k], rtol=1e-5, atol=1e-6)
    assert result[0.25].history.train_config["base_share"] == 0.25
    for bad in (-0.1, 1.0):
        with pytest.raises(UserInputError, match="base share"):
            TrainConfig(base_share=bad)

    plain = copy.deepcopy(trained)  # trained from scratch: no base to mix with
    outcomes = [weights(fit(sample.image, sample.strokes, TrainConfig(steps=3, batch_size=2, patch_size=64, seed=0,
                                                                        device="cpu", base_share=s),
                            model=copy.deepcopy(plain)).model) for s in (0.0, 0.5)]
    assert all(torch.equal(outcomes[0][k], outcomes[1][k]) for k in outcomes[0])


def test_fine_tuning_a_base_model_keeps_its_prediction_where_nothing_is_painted(sample, trained):
    """Strokes on one corner only: with the keep term the rest of the image changes less."""
    import copy

    from napari_unet.predict.pipeline import predict_labels

    base = copy.deepcopy(trained)
    base.info = ModelInfo(name="base", class_names={1: "background", 2: "cells"}, line_classes=[2])
    before = predict_labels(base, sample.image, probabilities=True).probabilities
    strokes = np.zeros_like(sample.strokes)
    strokes[:32, :32] = sample.strokes[:32, :32]
    strokes[:4, :4] = 1
    strokes[4:8, 4:8] = 2
    change = {}
    for weight in (0.0, 3.0, None):  # None: the default, 1 from a base model with line classes
        cfg = TrainConfig(steps=40, batch_size=4, patch_size=64, seed=0, device="cpu", keep_weight=weight, base_share=0,
                          learning_rate=1e-2)
        tuned = fit(sample.image, strokes, cfg, model=copy.deepcopy(base)).model
        after = predict_labels(tuned, sample.image, probabilities=True).probabilities
        change[weight] = float(np.abs(after - before)[..., 48:, 48:].mean())
        assert tuned.info.fine_tuned_from == "base"
    assert change[3.0] < 0.7 * change[0.0]
    assert change[None] < 0.85 * change[0.0]  # on by default when fine-tuning a base model of lines
    from napari_unet.core.loop import keep_weight

    assert keep_weight(TrainConfig(), base) == 1.0 and keep_weight(TrainConfig(keep_weight=0), base) == 0.0
    blobs = copy.deepcopy(base)
    blobs.info.line_classes = []
    assert keep_weight(TrainConfig(), blobs) == 0.0 and keep_weight(TrainConfig(keep_weight=2), blobs) == 2.0
    fresh = copy.deepcopy(base)
    fresh.info.name = fresh.info.fine_tuned_from = None
    assert keep_weight(TrainConfig(), fresh) == 0.0  # a model trained from scratch has nothing to keep
