"""Which device and dtype a model runs on, from the --device and --dtype options."""

from __future__ import annotations

from typing import Any

from curate.errors import UserError

DTYPES = ("auto", "float32", "bfloat16", "float16")


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def pick_device(device: str) -> Any:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise UserError(f"unknown device {device!r} ({first_line(error)}); use auto, cpu or cuda[:N]") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r} asked for, but torch sees no CUDA GPU here; use --device cpu")
    return chosen


def pick_dtype(dtype: str, device: Any) -> Any:
    import torch

    if dtype not in DTYPES:
        raise UserError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, dtype)
