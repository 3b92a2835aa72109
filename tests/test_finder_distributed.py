"""Two gloo processes on CPU: every rank must record the same curve and stop together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

WORKER = textwrap.dedent(
    """
    import json, sys
    import torch
    import torch.distributed as dist
    from torch.nn import functional as F
    from onecycle.finder import lr_find

    torch.set_num_threads(1)
    rank, world, init_file, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank,
                            world_size=world)
    # different data on every rank, the same model initialisation
    g = torch.Generator().manual_seed(100 + rank)
    w_true = torch.randn(20, 5, generator=g)
    X = torch.randn(512, 20, generator=g)
    y = (X @ w_true + 0.5 * torch.randn(512, 5, generator=g)).argmax(1)
    batches = [(X[i:i + 32], y[i:i + 32]) for i in range(0, 512, 32)]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 5))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    local = []

    def step(m, batch):
        loss = F.cross_entropy(m(batch[0]), batch[1])
        if torch.is_grad_enabled():
            local.append(loss.item())
        return loss

    res = lr_find(model, opt, None, batches, start_lr=1e-4, end_lr=100.0, num_iter=80,
                  step_fn=step, val_loader=batches[:2], val_every=10, progress=False)
    with open(out, "w") as fh:
        json.dump({"lrs": res.lrs.tolist(), "losses": res.losses.tolist(),
                   "smoothed": res.smoothed.tolist(), "stop_index": res.stop_index,
                   "stop_reason": res.stop_reason, "val": res.val_losses.tolist(),
                   "local": local, "lr_after": opt.param_groups[0]["lr"]}, fh)
    dist.destroy_process_group()
    # gloo can abort the process during interpreter shutdown even after the group was
    # destroyed ("terminate called without an active exception", 3 runs in 57 on this
    # machine): torch's teardown, not the behaviour under test; leave without it
    import os
    sys.stdout.flush()
    os._exit(0)
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_two_ranks_see_the_same_curve_and_stop_together(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    init_file = tmp_path / "init"
    world = 2
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(r), str(world), str(init_file),
             str(tmp_path / f"out{r}.json")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        )
        for r in range(world)
    ]
    logs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=60)
            logs.append(out.decode(errors="replace"))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in procs), "\n----\n".join(logs)
    r0, r1 = (json.loads((tmp_path / f"out{r}.json").read_text()) for r in range(world))
    # the ranks really had different data ...
    assert r0["local"][0] != r1["local"][0]
    # ... yet recorded the same averaged curve and stopped at the same step
    assert r0["stop_reason"] == r1["stop_reason"] != "completed"
    assert r0["stop_index"] == r1["stop_index"] == len(r0["lrs"]) - 1 < 79
    assert r0["lrs"] == r1["lrs"]
    assert r0["losses"] == r1["losses"] and r0["smoothed"] == r1["smoothed"]
    assert r0["val"] == r1["val"] and len(r0["val"]) > 0
    n = len(r0["lrs"])
    for i in range(0, n - 1):  # the recorded loss is the mean of the ranks' losses
        assert abs(r0["losses"][i] - (r0["local"][i] + r1["local"][i]) / 2) < 1e-6
    assert r0["lr_after"] == r1["lr_after"] == 0.1
