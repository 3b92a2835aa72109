"""Reference models: classifiers for images, flat features and signals, and small LMs.

Every factory takes ``input_shape`` and ``num_classes`` (the number of outputs: classes,
regression targets, or a language model's vocabulary size) and returns an ``nn.Module``:

* ``mlp`` -- any shape (flattened): ``Linear-ReLU-Dropout`` per hidden layer;
  ``num_classes=1`` is a regression head;
* ``lenet``, ``caffe_lenet``, ``small_cnn``, ``resnet20``, ``resnet56`` -- images
  ``(C, H, W)``;
* ``cnn1d`` -- signals ``(C, L)`` (MNIST-1D);
* ``char_transformer`` -- token ids ``(T,)``: a small causal transformer whose
  ``model(input_ids, labels)`` returns ``.loss`` and ``.logits``;
* ``hf_gpt2_tiny`` -- the same batches and outputs from a random GPT-2 of Hugging Face
  ``transformers`` (optional; imported only when built).

Classifiers return logits ``(N, num_classes)``; the language models return an object
with ``.logits`` ``(N, T, vocab)`` and, given ``labels``, ``.loss``. Every factory takes
``dropout=`` and every model contains at least one ``nn.Dropout`` module (``p=0.0`` by
default, the identity), so a dropout search can set ``p`` on every ``nn.Dropout``.
:func:`resolve` also accepts ``"package.module:factory"`` specs and callables.

Example:
    >>> import torch
    >>> from onecycle.models import create
    >>> model = create("small_cnn", (1, 28, 28), 10)
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from .hf import HFCausalLM, hf_gpt2_tiny
from .registry import MODELS, count_parameters, create, register_model, resolve
from .resnet import CifarResNet, resnet20, resnet56, resnet_cifar
from .sequence import cnn1d
from .shapes import check_num_classes, check_shape
from .transformer import CausalLMOutput, CharTransformer, char_transformer
from .vision import caffe_lenet, lenet, mlp, small_cnn

__all__ = [
    "MODELS",
    "CausalLMOutput",
    "CharTransformer",
    "CifarResNet",
    "HFCausalLM",
    "caffe_lenet",
    "char_transformer",
    "check_num_classes",
    "check_shape",
    "cnn1d",
    "count_parameters",
    "create",
    "hf_gpt2_tiny",
    "lenet",
    "mlp",
    "register_model",
    "resnet20",
    "resnet56",
    "resnet_cifar",
    "resolve",
    "small_cnn",
]
