"""Running one loop on several processes (torchrun): who am I, and the few collectives a loop needs.

Without torchrun's environment (WORLD_SIZE unset or 1) everything here is a no-op, so the
same loop runs on one device unchanged. gloo on CPU, NCCL on GPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Distributed:
    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @staticmethod
    def from_environment() -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return Distributed()
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return Distributed(world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")))

    def device(self, name: str):
        import torch

        from curate.llm.devices import pick_device

        if name == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda", self.local_rank)
            return torch.device("cpu")
        chosen = pick_device(name)
        return torch.device("cuda", self.local_rank) if chosen.type == "cuda" and chosen.index is None else chosen

    def wrap(self, model, device, fsdp: bool = False, use_bf16: bool = False):
        """The model under DDP when there are several processes, sharded in place with FSDP2
        with `fsdp` (fsdp.py), else the model itself."""
        if not self.active:
            return model
        if fsdp:
            from curate.train.fsdp import shard

            return shard(model, use_bf16)
        import torch

        return torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    def share(self, indices: list[int], batch_size: int) -> tuple[list[int], float]:
        """This process's `batch_size` indices of a global micro-batch, and their weight (1).

        The short last batch of an epoch can leave a process none: it then gets the batch's
        first index with weight 0, to run one row that trains nothing but joins the gradient sync.
        """
        mine = indices[self.rank * batch_size : (self.rank + 1) * batch_size]
        return (mine, 1.0) if mine else (indices[:1], 0.0)

    def sum(self, values: list[float]) -> list[float]:
        """The sums of `values` over every process (float64 on CPU, so gloo and NCCL agree)."""
        if not self.active:
            return values
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64)
        if dist.get_backend() == "nccl":
            tensor = tensor.cuda(self.local_rank)
        dist.all_reduce(tensor)
        return tensor.cpu().tolist()

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.active:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
