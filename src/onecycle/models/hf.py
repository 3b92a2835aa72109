"""A tiny GPT-2 from Hugging Face ``transformers`` (optional: ``pip install onecycle[hf]``).

:func:`hf_gpt2_tiny` builds a ``GPT2LMHeadModel`` from a ``GPT2Config`` -- random
weights, nothing downloaded -- whose vocabulary is the text bundle's characters, and
wraps it in :class:`HFCausalLM` so it takes the same batches as
:func:`~onecycle.models.char_transformer`.

Why a wrapper: the text bundles' ``labels`` are the inputs shifted by one (the next
character), while a Hugging Face causal LM wants ``labels`` equal to ``input_ids`` and
shifts them itself. Fed our batch as it is, GPT-2 would learn to predict the character
*after* the next one, silently. :class:`HFCausalLM` hands it
:func:`onecycle.data.text.hf_causal_batch` of the batch instead: the whole window of
``T + 1`` characters as both ``input_ids`` and ``labels``, so GPT-2 predicts exactly
the ``T`` characters our ``labels`` hold, with the same mean cross-entropy; the logits
of the extra last position are dropped. ``model.hf`` is the plain Hugging Face model.

``transformers`` is imported only when the model is built.

Example:
    >>> import torch
    >>> m = hf_gpt2_tiny((16,), 30)  # doctest: +SKIP
    >>> ids = torch.randint(0, 30, (2, 17))  # doctest: +SKIP
    >>> m(ids[:, :-1], labels=ids[:, 1:]).logits.shape  # doctest: +SKIP
    torch.Size([2, 16, 30])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..data.text import hf_causal_batch
from .shapes import check_shape
from .transformer import CausalLMOutput

__all__ = ["HF_INSTALL", "HFCausalLM", "hf_gpt2_tiny"]

#: How to get the optional dependency.
HF_INSTALL = "pip install 'onecycle[hf]'  (or: pip install transformers)"


class HFCausalLM(nn.Module):
    """A Hugging Face causal LM that takes next-character ``labels`` (see the module docs).

    Example (any module with Hugging Face's ``forward(input_ids, labels)`` fits):
        >>> import torch
        >>> class Seen(torch.nn.Module):  # records what the HF model is given
        ...     def forward(self, input_ids, labels=None):
        ...         self.seen = input_ids
        ...         return CausalLMOutput(torch.zeros(*input_ids.shape, 3), torch.tensor(0.0))
        >>> m = HFCausalLM(Seen())
        >>> w = torch.tensor([[0, 1, 2, 0, 1]])
        >>> out = m(w[:, :-1], labels=w[:, 1:])
        >>> m.hf.seen.tolist(), tuple(out.logits.shape)
        ([[0, 1, 2, 0, 1]], (1, 4, 3))
    """

    def __init__(self, hf_model: nn.Module) -> None:
        super().__init__()
        self.hf = hf_model

    def forward(
        self, input_ids: torch.Tensor, labels: torch.Tensor | None = None, **kwargs: Any
    ) -> CausalLMOutput:
        """Logits ``(B, T, V)``; with next-character ``labels`` the mean loss too.

        Example:
            >>> import torch
            >>> class Zero(torch.nn.Module):
            ...     def forward(self, input_ids, labels=None):
            ...         return CausalLMOutput(torch.zeros(*input_ids.shape, 2))
            >>> HFCausalLM(Zero())(torch.zeros(3, 4, dtype=torch.long)).logits.shape
            torch.Size([3, 4, 2])
        """
        if labels is None:
            return CausalLMOutput(self.hf(input_ids=input_ids, **kwargs).logits)
        batch = hf_causal_batch({"input_ids": input_ids, "labels": labels})
        out = self.hf(**batch, **kwargs)
        return CausalLMOutput(out.logits[:, :-1], out.loss)


def hf_gpt2_tiny(
    input_shape: Sequence[int],
    num_classes: int,
    dropout: float = 0.0,
    n_embd: int = 64,
    n_layer: int = 3,
    n_head: int = 4,
) -> HFCausalLM:
    """A randomly initialised GPT-2 of ``n_layer`` x ``n_embd`` for ``(T,)`` contexts.

    ``num_classes`` is the vocabulary size; the position table has ``T + 1`` entries
    (see the module docs for why). Every dropout of GPT-2 (embedding, attention,
    residual) is ``dropout``. Raises ``ImportError`` naming the install step when
    ``transformers`` is missing.

    Example:
        >>> m = hf_gpt2_tiny((32,), 50)  # doctest: +SKIP
        >>> m.hf.config.n_positions  # doctest: +SKIP
        33
    """
    (t,) = check_shape(input_shape, num_classes, dims=1, layout="(T,) (the context length)")
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError as err:
        raise ImportError(f"model 'hf_gpt2_tiny' needs transformers: {HF_INSTALL} ({err})"
                          ) from None
    config = GPT2Config(
        vocab_size=int(num_classes), n_positions=t + 1, n_embd=n_embd, n_layer=n_layer,
        n_head=n_head, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
        bos_token_id=None, eos_token_id=None,
    )
    model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"  # the causal-LM loss, named (else a warning per model)
    return HFCausalLM(model)
