import numpy as np
import pytest
import torch

from napari_unet.core.config import ModelConfig, UserInputError
from napari_unet.core.model import UNet, conv_flops_per_pixel, count_parameters


@pytest.mark.parametrize("size", [(64, 64), (37, 51), (5, 9), (1, 1)])
def test_forward_backward_any_size(size):
    net = UNet(ModelConfig(in_channels=3, n_classes=4, depth=3, base_channels=4))
    x = torch.randn(2, 3, *size, requires_grad=True)
    out = net(x)
    assert out.shape == (2, 4, *size)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in net.parameters())


def test_wrong_channel_count_is_a_clear_error():
    net = UNet(ModelConfig(in_channels=1, n_classes=2, depth=2, base_channels=4))
    with pytest.raises(ValueError, match="1 input channel"):
        net(torch.randn(1, 3, 32, 32))


def test_width_and_depth_configure_the_network():
    small = UNet(ModelConfig(depth=2, base_channels=4))
    big = UNet(ModelConfig(depth=4, base_channels=16))
    assert count_parameters(big) > 50 * count_parameters(small)
    assert len(big.down) == 4 and len(big.up) == 4
    assert conv_flops_per_pixel(big.config) > conv_flops_per_pixel(small.config)


def test_invalid_configs_are_rejected():
    with pytest.raises(UserInputError):
        ModelConfig(n_classes=1)
    with pytest.raises(UserInputError):
        ModelConfig(depth=0)


def test_inference_copy_folds_batch_norm_without_changing_the_function(trained, sample):
    import torch

    from napari_unet.core.model import inference_copy

    net = trained.net
    try:
        net.train()  # e.g. predicting while it trains
        fast = inference_copy(net)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
        # the model itself is untouched: BatchNorm still there, still in training mode
        assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
        assert all(m.training for m in net.modules())
    finally:
        net.eval()  # the model is shared with other tests
    x = torch.from_numpy(sample.image[None, None, :64, :72].astype(np.float32) / 255)
    with torch.inference_mode():
        ref = net(x)
        fused = fast(x.contiguous(memory_format=torch.channels_last))
        fast.onednn = False  # the plain route: nn.Conv2d, ReLU, max_pool2d, cat
        plain = fast(x)
    # folding and fusing reorder float32 arithmetic only: differences are rounding, far below the logits' scale
    for got in (fused, plain):
        assert (got - ref).abs().max() <= 1e-4 * ref.abs().max()


def test_inference_copy_fuses_on_a_onednn_cpu():
    import platform

    from napari_unet.core.model import inference_copy

    if not (torch.backends.mkldnn.is_available() and platform.machine().lower() in ("x86_64", "amd64")):
        pytest.skip("the fused convolution + ReLU route needs torch's oneDNN on an x86-64 CPU")
    fast = inference_copy(UNet(ModelConfig(depth=2, base_channels=4)).eval())
    with torch.inference_mode(), torch.profiler.profile() as prof:
        fast(torch.zeros(1, 1, 16, 16))
    fused = [e for e in prof.events() if e.name == "mkldnn::_convolution_pointwise"]
    assert fast.onednn and len(fused) == 10  # every 3x3 convolution of the five blocks
