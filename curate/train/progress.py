"""The progress line of a training loop: loss, tokens per second and MFU at every step."""

from __future__ import annotations


class TrainingProgress:
    """A tqdm bar over the optimizer steps whose line reads like nanoGPT's log:
    `loss 2.3456, acc 0.62, 12,345 tok/s, mfu 41.2%` (MFU only where the GPU's peak is known)."""

    def __init__(self, name: str, total_steps: int, start_step: int, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total_steps, initial=start_step, desc=name, unit="step", disable=not enabled)

    def update(self, record: dict, *extra: str) -> None:
        """Advance one step; `record` is the step's metrics line, `extra` more shown values."""
        parts = [f"loss {record['loss']:.4f}", *extra, f"{record['tokens_per_s']:,.0f} tok/s"]
        if record.get("mfu") is not None:
            parts.append(f"mfu {record['mfu']:.1%}")
        self.bar.update(1)
        self.bar.set_postfix_str(", ".join(parts), refresh=False)

    def close(self) -> None:
        self.bar.close()
