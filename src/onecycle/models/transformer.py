"""A small causal transformer for character-level language modelling.

:func:`char_transformer` builds a GPT-style decoder (pre-LayerNorm blocks, learned
positions, tied input/output embeddings) sized for CPU: at the defaults (d_model 64,
3 layers, 4 heads, 128 characters of context) it has about 160 k parameters. Like a
Hugging Face model it computes its own loss: ``model(input_ids, labels)`` returns a
:class:`CausalLMOutput` with ``.loss`` (mean cross-entropy per character, in nats) and
``.logits``, so the step of any trainer is ``step_fn=lambda m, b: m(**b)`` over the
``{"input_ids", "labels"}`` batches of :func:`onecycle.data.load` ``("text")``, whose
``labels`` are the inputs shifted by one (``labels[:, t] = next char after
input_ids[:, t]``).

Example:
    >>> import torch
    >>> m = char_transformer((16,), 30)
    >>> ids = torch.randint(0, 30, (2, 16))
    >>> out = m(ids, labels=ids)
    >>> out.logits.shape, out.loss.shape
    (torch.Size([2, 16, 30]), torch.Size([]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .shapes import check_shape

__all__ = ["CausalLMOutput", "CharTransformer", "char_transformer"]


@dataclass
class CausalLMOutput:
    """What a language model returns: ``logits`` ``(B, T, V)`` and ``loss`` (or None).

    Example:
        >>> CausalLMOutput(torch.zeros(1, 2, 3)).loss is None
        True
    """

    logits: torch.Tensor
    loss: torch.Tensor | None = None


class _Block(nn.Module):
    """Pre-LN transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d_model: int, n_heads: int, dropout: float, mlp_ratio: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        # the attention dropout is a module too, so a dropout search that sets p on every
        # nn.Dropout reaches it (its p is passed to scaled_dot_product_attention)
        self.attn_drop = nn.Dropout(dropout)
        self.resid_drop = nn.Dropout(dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model),
            nn.GELU(),
            nn.Linear(mlp_ratio * d_model, d_model),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)
                   for z in (q, k, v))
        p = self.attn_drop.p if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        x = x + self.resid_drop(self.proj(y.transpose(1, 2).reshape(b, t, c)))
        return x + self.mlp(self.ln2(x))


class CharTransformer(nn.Module):
    """A GPT-style causal decoder over a character vocabulary (see the module docs).

    Example:
        >>> import torch
        >>> m = CharTransformer(vocab_size=10, max_len=8, d_model=16, n_layers=1, n_heads=2)
        >>> m(torch.zeros(1, 5, dtype=torch.long)).logits.shape
        torch.Size([1, 5, 10])
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        *,
        d_model: int = 64,
        n_layers: int = 3,
        n_heads: int = 4,
        dropout: float = 0.0,
        mlp_ratio: int = 4,
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.max_len = max_len
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            _Block(d_model, n_heads, dropout, mlp_ratio) for _ in range(n_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied, as in GPT-2: fewer parameters
        self.apply(self._init)
        for block in self.blocks:  # GPT-2's scaled init of the residual projections
            for proj in (block.proj, block.mlp[2]):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * n_layers))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(
        self, input_ids: torch.Tensor, labels: torch.Tensor | None = None
    ) -> CausalLMOutput:
        """Logits for every position; with ``labels`` (the next characters) the loss too.

        Example:
            >>> import torch
            >>> m = CharTransformer(vocab_size=5, max_len=4, d_model=8, n_layers=1, n_heads=2)
            >>> m(torch.zeros(2, 4, dtype=torch.long), labels=torch.ones(2, 4).long()).loss.ndim
            0
        """
        if input_ids.dim() != 2 or input_ids.shape[1] > self.max_len:
            raise ValueError(
                f"input_ids must be (batch, length) with length <= {self.max_len}, got "
                f"shape {tuple(input_ids.shape)}"
            )
        pos = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.drop(self.tok_emb(input_ids) + self.pos_emb(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        return CausalLMOutput(logits, loss)


def char_transformer(
    input_shape: Sequence[int],
    num_classes: int,
    dropout: float = 0.0,
    d_model: int = 64,
    n_layers: int = 3,
    n_heads: int = 4,
) -> CharTransformer:
    """A :class:`CharTransformer` for ``input_shape=(T,)`` contexts over ``num_classes`` chars.

    ``num_classes`` is the vocabulary size (``bundle.num_classes`` of a text bundle);
    the model accepts any length up to ``T``.

    Example:
        >>> import torch
        >>> m = char_transformer((32,), 50)
        >>> m(torch.zeros(1, 32, dtype=torch.long)).logits.shape
        torch.Size([1, 32, 50])
    """
    (t,) = check_shape(input_shape, num_classes, dims=1, layout="(T,) (the context length)")
    return CharTransformer(num_classes, t, d_model=d_model, n_layers=n_layers, n_heads=n_heads,
                           dropout=dropout)
