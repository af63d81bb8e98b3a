"""fixedpoint.torch: PyTorch fake-quantization ops and modules with exact ap_fixed semantics.

``import fixedpoint.torch as fxt`` (needs the ``torch`` extra). Every op is registered in the
``fixedpoint`` torch.library namespace (``torch.ops.fixedpoint.*``), with fake-tensor and
autograd registrations, so the ops work under ``torch.compile``. See ``docs/torch.md``.
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "fixedpoint.torch needs PyTorch: pip install 'fixedpoint-hls[torch]' (torch >= 2.4)"
    ) from exc

from ._ops import (  # noqa: E402
    STE_MODES,
    get_backend,
    quantize,
    quantize_affine,
    quantize_scaled,
    set_backend,
    use_backend,
)
from ._binary_ops import BINARY_STE_MODES, BinaryConv2d, BinaryLinear, binarize, ternarize  # noqa: E402
from .modules import (  # noqa: E402
    FixedQuantizer,
    QuantAct,
    QuantConv1d,
    QuantConv2d,
    QuantLinear,
    QuantReLU,
    export_integer_weights,
    model_formats,
    quantize_model,
)

__all__ = [
    "BINARY_STE_MODES",
    "STE_MODES",
    "BinaryConv2d",
    "BinaryLinear",
    "FixedQuantizer",
    "QuantAct",
    "QuantConv1d",
    "QuantConv2d",
    "QuantLinear",
    "QuantReLU",
    "binarize",
    "export_integer_weights",
    "get_backend",
    "model_formats",
    "quantize",
    "quantize_affine",
    "quantize_model",
    "quantize_scaled",
    "set_backend",
    "ternarize",
    "use_backend",
]
