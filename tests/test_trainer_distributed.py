"""Distributed data parallel: sharding helpers, and a 2-process torchrun/gloo run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from onecycle.train import load_checkpoint
from onecycle.train.distributed import DistContext, ShardedLoader, shard_loader

torch.set_num_threads(1)
WORKER = Path(__file__).with_name("_train_worker.py")


class Batches(list):
    epoch = None

    def set_epoch(self, e):
        self.epoch = e


def test_single_process_context():
    ctx = DistContext.from_env()
    assert (ctx.rank, ctx.world_size, ctx.active, ctx.is_main) == (0, 1, False, True)
    assert ctx.broadcast_object({"a": 1}) == {"a": 1}
    assert ctx.gather_objects(3) == [3]
    assert ctx.mean_loss(torch.tensor(2.5)) == 2.5


def test_sharded_loader_round_robin_with_padding():
    data = Batches((i, i) for i in range(7))
    shards = [ShardedLoader(data, r, 3, pad=True) for r in range(3)]
    got = [[b for b, _ in s] for s in shards]
    assert got == [[0, 3, 6], [1, 4, 0], [2, 5, 1]]
    assert all(len(s) == 3 for s in shards)
    shards[1].set_epoch(4)
    assert data.epoch == 4
    unpadded = [[b for b, _ in ShardedLoader(data, r, 3, pad=False)] for r in range(3)]
    assert sorted(sum(unpadded, [])) == list(range(7))
    assert [len(ShardedLoader(data, r, 3, pad=False)) for r in range(3)] == [3, 2, 2]


def test_shard_loader_rules():
    ds = TensorDataset(torch.arange(10.0), torch.arange(10))
    dl = DataLoader(ds, batch_size=2, shuffle=True)
    tr = shard_loader(dl, 1, 2, train=True, seed=5)
    assert isinstance(tr.sampler, DistributedSampler) and tr.sampler.shuffle
    assert tr.sampler.seed == 5 and len(tr) == 3
    ev = shard_loader(DataLoader(ds, batch_size=3), 1, 2, train=False)
    assert [int(v) for x, _ in ev for v in x] == [1, 3, 5, 7, 9]
    already = DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, 2, 0))
    assert shard_loader(already, 0, 2, train=True) is already
    with pytest.raises(ValueError, match="batch_sampler"):
        shard_loader(DataLoader(ds, batch_sampler=[[0, 1], [2, 3]]), 0, 2, train=True)

    class Sharded(list):
        def shard(self, rank, world):
            return self[rank::world]

    assert shard_loader(Sharded([1, 2, 3, 4]), 1, 2, train=True) == [2, 4]
    assert shard_loader(dl, 0, 1, train=True) is dl


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_run(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={_free_port()}", "--master_addr=127.0.0.1", str(WORKER), "ddp",
           "--out", str(tmp_path)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-4000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert (r0["rank"], r1["rank"], r0["world_size"]) == (0, 1, 2)
    # 192 samples / 16 per batch = 12 batches, 6 per rank, the same schedule on both
    assert r0["steps_per_epoch"] == r1["steps_per_epoch"] == 6
    assert r0["lr"] == r1["lr"] and len(r0["lr"]) == 12
    assert r0["momentum"] == r1["momentum"]
    assert r0["loss"] == r1["loss"]  # all-reduced
    assert _same_but_time(r0["records"], r1["records"])  # val metrics all-reduced
    for k in r0["model"]:
        assert torch.equal(r0["model"][k], r1["model"][k]), k
    # the first cycle took max_lr from the range test: same suggestion, same weights
    assert r0["lr_find"] == r1["lr_find"] and r0["lr1"] == r1["lr1"]
    assert json.loads(r0["lr_find"])["lr"] > 0
    for k in r0["model1"]:
        assert torch.equal(r0["model1"][k], r1["model1"][k]), k
    ck = load_checkpoint(tmp_path / "ckpt" / "last.pt")
    assert ck["world_size"] == 2 and len(ck["rng"]) == 2 and ck["fit"]["finished"]
    assert ck["fit"]["index"] == 1
    for k in r0["model"]:
        assert torch.equal(ck["model"][k], r0["model"][k])
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["last.pt"]


def _same_but_time(a: str, b: str) -> bool:
    ra, rb = json.loads(a), json.loads(b)
    strip = [[{k: v for k, v in r.items() if k != "wall_time"} for r in x] for x in (ra, rb)]
    return strip[0] == strip[1]


def test_group_created_by_the_library_is_destroyed_at_exit(monkeypatch, tmp_path):
    """A gloo group left alive into interpreter shutdown can abort the process; the
    context registers an exit hook for a group it created, and the hook destroys it."""
    from onecycle.train import distributed as D

    hooks, inits = [], []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(D.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(D.dist, "init_process_group", lambda **kw: inits.append(kw))
    monkeypatch.setattr(D.dist, "get_rank", lambda: 1)
    monkeypatch.setattr(D.dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(D.atexit, "register", lambda fn, *a: hooks.append((fn, a)))
    ctx = D.DistContext.from_env()
    assert (ctx.rank, ctx.world_size, ctx.created_group) == (1, 2, True)
    assert inits == [{"backend": "gloo"}] and [fn for fn, _ in hooks] == [D._destroy_own_group]
    monkeypatch.undo()

    # the hook itself, on a real one-process gloo group
    dist = torch.distributed

    def new_group(name):
        dist.init_process_group("gloo", init_method=f"file://{tmp_path / name}", rank=0,
                                world_size=1)
        return dist.group.WORLD

    try:
        ours = new_group("a")
        D._destroy_own_group(ours)
        assert not dist.is_initialized()
        D._destroy_own_group(ours)  # twice (the script destroyed it already): a no-op
        # the script destroyed ours and made its own: the hook leaves that one alone
        theirs = new_group("b")
        D._destroy_own_group(ours)
        assert dist.is_initialized() and dist.group.WORLD is theirs
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_no_exit_hook_for_an_nccl_group(monkeypatch):
    """Destroying an nccl group waits for pending collectives: after a failure on one
    rank, an exit hook would hang the others."""
    from onecycle.train import distributed as D

    hooks = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setattr(D.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(D.dist, "is_nccl_available", lambda: True)
    monkeypatch.setattr(D.dist, "init_process_group", lambda **kw: None)
    monkeypatch.setattr(D.dist, "get_rank", lambda: 0)
    monkeypatch.setattr(D.dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(D.torch.cuda, "set_device", lambda i: None)
    monkeypatch.setattr(D.atexit, "register", lambda fn, *a: hooks.append(fn))
    ctx = D.DistContext.from_env(torch.device("cuda"))
    assert ctx.created_group and hooks == []


def test_group_created_by_the_script_is_left_to_the_script(monkeypatch):
    from onecycle.train import distributed as D

    hooks = []
    monkeypatch.setattr(D.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(D.dist, "get_rank", lambda: 0)
    monkeypatch.setattr(D.dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(D.atexit, "register", lambda fn, *a: hooks.append(fn))
    ctx = D.DistContext.from_env()
    assert (ctx.active, ctx.created_group, hooks) == (True, False, [])


class _LyingLen(list):
    """Batches whose len() claims one more than they hold."""

    def __len__(self):
        return super().__len__() + 1


def _accumulating_fit(tmp_path, wrap: bool, batches, monkeypatch=None):
    from torch.nn.parallel import DistributedDataParallel

    from onecycle.train import Trainer

    sys.path.insert(0, str(WORKER.parent))
    from _train_worker import mlp

    model, calls = mlp(dropout=0.0), []
    net = model
    if wrap:
        net = DistributedDataParallel(model)

        def count(state, bucket):  # one process: all-reducing is the identity
            calls.append(1)
            fut = torch.futures.Future()
            fut.set_result(bucket.buffer())
            return fut

        net.register_comm_hook(None, count)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    trainer = Trainer(net, torch.nn.functional.cross_entropy, opt, batches,
                      accumulation_steps=3, progress=False, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the lying len() is replanned
        trainer.fit(2, lr=0.1)
    return {k.removeprefix("module."): v for k, v in net.state_dict().items()}, len(calls)


def test_accumulation_all_reduces_once_per_optimizer_step(tmp_path, monkeypatch):
    """Under DDP the micro-batches of a group run under no_sync: one all-reduce per
    optimizer step (10 batches in groups of 3: 4 steps an epoch), same weights; a loader
    that ends before its len() gets its short group's gradients all-reduced by hand."""
    from onecycle.train import loop

    sys.path.insert(0, str(WORKER.parent))
    from _train_worker import blobs

    x, y = blobs(n=80)
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 80, 8)]
    dist = torch.distributed
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'g'}", rank=0,
                            world_size=1)
    try:
        plain, _ = _accumulating_fit(tmp_path, False, batches)
        ddp, calls = _accumulating_fit(tmp_path, True, batches)
        assert calls == 2 * 4
        for k in plain:
            assert torch.allclose(plain[k], ddp[k], atol=1e-6), k

        by_hand = []
        real = loop._all_reduce_gradients
        monkeypatch.setattr(loop, "_all_reduce_gradients",
                            lambda net: (by_hand.append(1), real(net)))
        lying = _LyingLen(batches)
        plain, _ = _accumulating_fit(tmp_path, False, lying)
        ddp, calls = _accumulating_fit(tmp_path, True, lying)
        # the 10th batch, believed not to be the last, ran under no_sync
        assert calls == 2 * 3 and len(by_hand) == 2
        for k in plain:
            assert torch.allclose(plain[k], ddp[k], atol=1e-6), k
    finally:
        dist.destroy_process_group()
