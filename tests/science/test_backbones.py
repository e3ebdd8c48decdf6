from concurrent.futures import ThreadPoolExecutor

import torch

from science import backbones


def test_imagenet_features_are_real_imagenet_weights_and_frozen():
    features = backbones.imagenet_features("alex")
    assert not features.training
    first = features[0].weight
    assert first.shape == (64, 3, 11, 11)
    assert not first.requires_grad
    # ImageNet conv1 filters are far from a fresh random init (std ≈ 0.016 for kaiming).
    assert first.std() > 0.05


def test_conversion_is_cached_and_reused(tmp_path):
    a = backbones.converted_weights("alex", tmp_path)
    assert (tmp_path / "imagenet-alex-lpips-v0.1.pt").exists()
    b = backbones.converted_weights("alex", tmp_path)
    assert all(torch.equal(x, y) for x, y in zip(a["convs"], b["convs"], strict=True))
    assert [k.shape for k in a["lins"]] == [(1, c, 1, 1) for c in (64, 192, 384, 256, 256)]


def test_parallel_first_conversions_share_one_cache(tmp_path):
    # Test and Celery workers start cold together; each must get the weights, none may trip
    # over another's temporary file, and no temporary file may be left behind.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: backbones.converted_weights("alex", tmp_path), range(4)))
    assert all(torch.equal(r["lins"][0], results[0]["lins"][0]) for r in results)
    assert [p.name for p in tmp_path.iterdir()] == ["imagenet-alex-lpips-v0.1.pt"]
