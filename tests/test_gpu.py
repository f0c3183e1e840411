"""On a CUDA GPU: training steps (fp32 and bf16 autocast), prediction equal to the CPU's, and the
GPU memory of a trainer child given back when it ends. Skipped where there is no CUDA device."""

import time

import numpy as np
import pytest
import torch

from napari_unet.core.config import PredictConfig, TrainConfig

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


def _weights(model):
    return {k: v.detach().cpu().clone() for k, v in model.net.state_dict().items()}


def test_auto_picks_cuda_and_training_steps_run_there(sample, tiny_model_config):
    from napari_unet.core.device import resolve_device
    from napari_unet.core.train import train

    assert resolve_device("auto").type == "cuda"
    gen = train(sample.image, sample.strokes, TrainConfig(steps=5, patch_size=64, device="auto", precision="fp32"),
                model_config=tiny_model_config)
    first = next(gen)
    start = _weights(first.model)
    events = [first, *gen]
    model = events[-1].model
    assert [e.step for e in events] == [1, 2, 3, 4, 5] and all(np.isfinite(e.loss) for e in events)
    assert next(model.net.parameters()).device.type == "cuda"
    assert any(not torch.equal(start[k], v) for k, v in _weights(model).items())


def test_bf16_autocast_training_computes_in_bf16_and_keeps_fp32_weights(sample, tiny_model_config):
    from napari_unet.core.device import use_bf16
    from napari_unet.core.loop import run_steps
    from napari_unet.core.train import prepare

    device = torch.device("cuda")
    assert use_bf16(device, "auto") == torch.cuda.is_bf16_supported()
    config = TrainConfig(steps=3, patch_size=64, device="cuda", precision="bf16")
    model, data = prepare([sample.image], [sample.strokes], config, None, tiny_model_config, device)
    seen = []
    conv = next(m for m in model.net.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    events = list(run_steps(model, data, config, device, use_bf16(device, config.precision), None))
    assert len(events) == 3 and all(np.isfinite(e.loss) for e in events)
    assert seen and set(seen) == {torch.bfloat16}  # the convolutions ran in bf16
    assert {p.dtype for p in model.net.parameters()} == {torch.float32}  # the weights stay fp32


def _agree(a, b, instance=False, labels=0.999, mean=1e-3, most=0.05):
    """Labels (the foreground of instance labels, whose numbering a flipped pixel may shift) and
    probabilities close."""
    same = (a.labels > 0) == (b.labels > 0) if instance else a.labels == b.labels
    assert np.mean(same) >= labels
    diff = np.abs(a.probabilities - b.probabilities)
    assert diff.mean() < mean and diff.max() < most, (diff.mean(), diff.max())


def test_prediction_on_cuda_equals_the_cpu(trained, sample):
    """fp32 on both (the GPU's convolutions may use TF32: labels may flip on the decision boundary only)."""
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels

    for model in (trained, load_model("nuclei")):
        cpu, gpu = (predict_labels(model, sample.image, PredictConfig(device=d, precision="fp32", rescale=False),
                                   probabilities=True) for d in ("cpu", "cuda"))
        _agree(gpu, cpu, instance=model.mode == "instance")
    if torch.cuda.is_bf16_supported():
        bf16 = predict_labels(trained, sample.image, PredictConfig(device="cuda", precision="bf16"), probabilities=True)
        fp32 = predict_labels(trained, sample.image, PredictConfig(device="cpu", precision="fp32"), probabilities=True)
        _agree(bf16, fp32, labels=0.99, mean=0.01, most=0.5)  # 8 bits of mantissa


def test_the_gpu_memory_of_a_trainer_child_comes_back_when_it_ends(sample, tiny_model_config):
    from napari_unet.trainer.client import Trainer
    from napari_unet.trainer.protocol import Finished

    free_before = torch.cuda.mem_get_info()[0]  # after this process's own CUDA context
    config = TrainConfig(time_budget=600, batch_size=8, patch_size=128, device="cuda")
    with Trainer([sample.image], [sample.strokes], config, model_config=tiny_model_config) as trainer:
        deadline = time.monotonic() + 120
        while trainer.step < 5 and time.monotonic() < deadline:
            trainer.poll(timeout=0.5)
        assert trainer.step >= 5
        free_during = torch.cuda.mem_get_info()[0]
        trainer.stop()
        assert isinstance(trainer.wait(timeout=60), Finished)
    assert free_before - free_during > 64 * 2**20  # the child's context and tensors show here
    deadline = time.monotonic() + 15  # the driver frees an ended process's memory
    while torch.cuda.mem_get_info()[0] < free_before - 16 * 2**20 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert torch.cuda.mem_get_info()[0] >= free_before - 16 * 2**20
    assert next(trainer.model.net.parameters()).device.type == "cpu"  # the weights came back to this process
