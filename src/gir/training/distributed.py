"""Device choice and the torchrun / DDP process group.

``torchrun --nproc_per_node N ...`` sets RANK, WORLD_SIZE and LOCAL_RANK (and MASTER_ADDR/PORT); with
WORLD_SIZE > 1 the engine joins the process group: NCCL on CUDA, gloo on CPU. Rank 0 logs, validates and
saves; every rank trains on its own sample indices.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from gir.data.errors import ConfigError


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this process created the group, so it destroys it

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def env_dist() -> DistInfo:
    """Rank / world size from the torchrun environment (single process when unset)."""
    return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                    int(os.environ.get("LOCAL_RANK", 0)))


def resolve_device(name: str, info: DistInfo) -> torch.device:
    """``auto``: CUDA (this rank's local GPU) > MPS > CPU; or an explicit cpu / cuda / cuda:N / mps."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"config: train.device: unknown device {name!r} (auto, cpu, cuda, cuda:N, mps)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("config: train.device is cuda but no CUDA GPU is available")
        if dev.index is None:
            dev = torch.device("cuda", info.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(dev)
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("config: train.device is mps but MPS is not available")
    return dev


def init_process_group(info: DistInfo, device: torch.device) -> DistInfo:
    """Join the torchrun group when WORLD_SIZE > 1 (NCCL for CUDA, gloo otherwise)."""
    if not info.enabled or dist.is_initialized():
        return info
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {"backend": backend}
    if device.type == "cuda":
        kwargs["device_id"] = device
    dist.init_process_group(**kwargs)
    info.owns_group = True
    return info


def shutdown(info: DistInfo, synchronize: bool = False) -> None:
    """Destroy the process group this run created. ``synchronize`` (after a run that ended well on this rank):
    wait for every rank first, so that no rank tears down its group while another still has collectives in
    flight (seen once in CI: a rank aborted at exit, "terminate called without an active exception"). Not
    after a failure: the other ranks may never reach the barrier."""
    if info.owns_group and dist.is_initialized():
        if synchronize and info.enabled:
            dist.barrier()
        dist.destroy_process_group()
        info.owns_group = False


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj``, in rank order (a one-item list in a single process)."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


