"""Uploaded networks are built and run in a child process: one that loops, allocates without
end or kills its interpreter is refused in words, and the caller's process carries on."""

import time

import pytest
import torch

from science.network_check import NetworkCheck, network_check


class Loops(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        while bool(x.sum() > -1.0):
            x = x + 1.0
        return x


class Hoards(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(64, 1024, 1024, 1024)  # 256 GiB


class Scales(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) * 2.0


def _scripted(tmp_path, module: torch.nn.Module) -> str:
    path = tmp_path / f"{type(module).__name__}.pt"
    torch.jit.script(module).save(str(path))
    return str(path)


def test_a_sane_torchscript_network_is_checked_with_its_defaults(tmp_path):
    answer = network_check(
        NetworkCheck(source="torchscript", architecture="", checkpoint=_scripted(tmp_path, Scales()), input_size=8),
        timeout_s=60,
        memory_mb=2048,
    )
    assert not answer.problem and answer.input_size == 8 and len(answer.mean) == 3


def test_a_network_that_never_returns_is_stopped_at_the_time_limit(tmp_path):
    start = time.monotonic()
    answer = network_check(
        NetworkCheck(source="torchscript", architecture="", checkpoint=_scripted(tmp_path, Loops()), input_size=8),
        timeout_s=15,
        memory_mb=2048,
    )
    assert "within 15 s" in answer.problem and answer.field == "checkpoint"
    assert time.monotonic() - start < 30


def test_a_network_that_allocates_past_the_limit_is_refused_in_words(tmp_path):
    answer = network_check(
        NetworkCheck(source="torchscript", architecture="", checkpoint=_scripted(tmp_path, Hoards()), input_size=8),
        timeout_s=60,
        memory_mb=1024,
    )
    assert "needs more than 1024 MB" in answer.problem


@pytest.mark.parametrize("junk", [b"", b"\x00" * 64, b"<script>alert(1)</script>"])
def test_a_file_that_is_not_a_network_is_refused_in_words(tmp_path, junk):
    path = tmp_path / "x.pt"
    path.write_bytes(junk)
    answer = network_check(
        NetworkCheck(source="torchscript", architecture="", checkpoint=str(path)), timeout_s=60, memory_mb=2048
    )
    assert answer.problem.startswith("not a TorchScript file") and answer.field == "checkpoint"
