import pytest
import torch
import torch.nn.functional as F
from conftest import randomize_

from uniformer_mm import UniFormer3D
from uniformer_mm.checkpoints import inflate_weight
from uniformer_mm.models import ARCH_ZOO_3D
from uniformer_mm.models.arch import preset_aliases


@pytest.mark.parametrize('arch', list(preset_aliases(ARCH_ZOO_3D)))
def test_presets_forward_shape(arch):
    model = UniFormer3D(arch).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 8, 64, 96))
    # temporal stride 2 in the stem only; spatial stride 32
    width = ARCH_ZOO_3D[arch]['embed_dims'][3]
    assert out.shape == (1, width, 4, 2, 3)


def test_multi_stage_output_and_final_norm():
    model = randomize_(UniFormer3D('test', out_indices=(0, 1, 2, 3))).eval()
    x = torch.randn(2, 3, 5, 64, 64)
    with torch.no_grad():
        outs = model(x)
        single = UniFormer3D('test').eval()
        single.load_state_dict(model.state_dict())
        last = single(x)
    assert [tuple(o.shape) for o in outs] == [(2, 16, 3, 16, 16),
                                              (2, 32, 3, 8, 8),
                                              (2, 64, 3, 4, 4),
                                              (2, 128, 3, 2, 2)]
    torch.testing.assert_close(outs[-1], last)
    # the final output is the BatchNorm3d of the last stage
    with torch.no_grad():
        x4 = x
        for i in range(4):
            x4 = model._run_stage(i, x4)
    torch.testing.assert_close(last, model.norm(x4))


def test_uses_shared_blocks_in_3d():
    model = UniFormer3D('test')
    assert model.blocks1[0].pos_embed.kernel_size == (3, 3, 3)
    assert model.blocks1[0].attn.kernel_size == (5, 5, 5)
    assert isinstance(model.blocks1[0].norm1, torch.nn.BatchNorm3d)
    assert model.patch_embed1.proj.kernel_size == (3, 4, 4)
    assert model.patch_embed1.proj.stride == (2, 4, 4)
    assert model.patch_embed1.proj.padding == (1, 0, 0)
    assert model.patch_embed2.proj.kernel_size == (1, 2, 2)


def test_sdpa_equals_eager_3d():
    fused = randomize_(UniFormer3D('test')).eval()
    eager = UniFormer3D('test', fast_paths=dict(fused_attn=False)).eval()
    eager.load_state_dict(fused.state_dict())
    x = torch.randn(1, 3, 4, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), eager(x), rtol=1e-5, atol=1e-5)


def test_inflate_weight_hand_computed():
    w2d = torch.tensor([[[[3., 6.]]]])  # (1, 1, 1, 2)
    avg = inflate_weight(w2d, 3, 'average')
    assert avg.shape == (1, 1, 3, 1, 2)
    assert avg.flatten().tolist() == [1., 2., 1., 2., 1., 2.]
    center = inflate_weight(w2d, 3, 'center')
    assert center.flatten().tolist() == [0., 0., 3., 6., 0., 0.]
    with pytest.raises(ValueError, match="'average' or 'center'"):
        inflate_weight(w2d, 3, 'mean')


@pytest.mark.parametrize('mode', ['average', 'center'])
def test_inflated_conv_on_static_video_gives_2d_response(mode):
    w2d = torch.randn(4, 3, 3, 3)
    frame = torch.randn(1, 3, 10, 10)
    video = frame.unsqueeze(2).repeat(1, 1, 5, 1, 1)
    out3d = F.conv3d(video, inflate_weight(w2d, 3, mode), padding=(1, 1, 1))
    out2d = F.conv2d(frame, w2d, padding=1)
    # interior frames see 3 identical frames: both modes give the 2D result
    for t in range(1, 4):
        torch.testing.assert_close(out3d[:, :, t], out2d)
    # border frames see zero padding: only 'center' still matches
    border = out3d[:, :, 0]
    if mode == 'center':
        torch.testing.assert_close(border, out2d)
    else:
        torch.testing.assert_close(border, out2d * 2 / 3)


@pytest.mark.parametrize('x, fragment', [
    (torch.randn(1, 3, 64, 64), '5D tensor'),
    (torch.randn(1, 2, 4, 64, 64), 'in_channels=3'),
    (torch.randn(1, 3, 4, 16, 64), 'too small'),
])
def test_bad_input(x, fragment):
    with pytest.raises(ValueError, match=fragment):
        UniFormer3D('test')(x)


def test_bad_arguments():
    with pytest.raises(ValueError, match='inflate_mode'):
        UniFormer3D('test', inflate_mode='middle')
    with pytest.raises(ValueError, match="Valid presets: 'small'"):
        UniFormer3D('large-ls')


def test_frozen_stages_3d():
    model = UniFormer3D('test', frozen_stages=4).train()
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.norm.training
