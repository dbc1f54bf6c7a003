"""Training FLOPs and model FLOPs utilisation (MFU), as nanoGPT and the PaLM paper count them."""

from __future__ import annotations

from dataclasses import dataclass

# Dense bf16 peak FLOP/s of the GPUs curate is benchmarked on, for MFU.
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "4090": 165e12}


def flops_per_token(parameters: int, layers: int, hidden: int, sequence: int, trainable: int | None = None) -> float:
    """Training FLOPs per token: 6N for the matmuls (forward + backward) plus causal attention,
    12 * layers * hidden * sequence / 2 (the PaLM appendix count, halved for the causal mask).

    With frozen weights (LoRA) their weight gradients are never computed: 2N forward, 2N for
    the activations' gradients, 2 per trainable parameter for the weight gradients.
    """
    trained = parameters if trainable is None else trainable
    return 4 * parameters + 2 * trained + 6 * layers * hidden * sequence


def peak_flops(device_name: str) -> float | None:
    for key, flops in PEAK_BF16_FLOPS.items():
        if key in device_name:
            return flops
    return None


def mfu(tokens_per_second: float, per_token: float, peak: float | None) -> float | None:
    return None if not peak else tokens_per_second * per_token / peak


@dataclass(frozen=True)
class Speed:
    """Tokens per second and MFU of a step, from the model's size and the device's peak."""

    flops_per_token: float
    peak: float | None  # None off a known GPU: no MFU
    world: int = 1

    @classmethod
    def of(cls, model, sequence: int, device, world: int = 1) -> Speed:
        import torch

        from curate.train.lora import parameter_counts

        config = model.config.get_text_config()
        trainable, parameters = parameter_counts(model)
        peak = peak_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
        per_token = flops_per_token(parameters, config.num_hidden_layers, config.hidden_size, sequence, trainable)
        return cls(per_token, peak, world)

    def scaled(self, factor: float) -> Speed:
        """The same, with `factor` times the FLOPs per token (a reference model's forward pass, say)."""
        return Speed(self.flops_per_token * factor, self.peak, self.world)

    def measure(self, tokens: float, seconds: float) -> tuple[float, float | None]:
        """(tokens per second over every process, MFU of one process's device)."""
        per_second = tokens / seconds
        return per_second, mfu(per_second / self.world, self.flops_per_token, self.peak)
