"""bench:gpu's reference: the project's tiny GPT (src/model/gpt.ts) in PyTorch on a CUDA device.

Same model as bench/torch_gpt.py (pre-LayerNorm blocks, fused qkv projection, causal attention, GELU
(tanh) MLP 4x, tied head, learned positions, Adam lr 1e-3, fp32), but every tensor lives on the GPU
and timings synchronise the device. Eager mode, no torch.compile, no TF32 (matching the project's
fp32 kernels). Sampling: 8 prompts of 16 tokens, each repeated for 8 completions (64 rows), KV cache,
temperature 1, like bench/gpu.ts's grouped sampler (which shares each prompt's prefix; here every row
runs its prompt). Prints one JSON line; without CUDA, a JSON line with "error" and exit status 0.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x, past=None):
        b, t, d = x.shape
        dh = d // self.h
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.h, dh).permute(2, 0, 3, 1, 4)
        if past is not None:
            k = torch.cat([past[0], k], 2)
            v = torch.cat([past[1], v], 2)
        tk = k.shape[2]
        att = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
        # query i sits at absolute position tk - t + i and sees keys 0..tk - t + i
        mask = torch.ones(t, tk, dtype=torch.bool, device=x.device).tril(tk - t)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))
        return x, (k, v)


class GPT(nn.Module):
    def __init__(self, vocab, d, layers, heads, max_len):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.lnf = nn.LayerNorm(d)

    def forward(self, ids, past=None, start=0):
        t = ids.shape[1]
        pos = torch.arange(start, start + t, device=ids.device)
        x = self.wte(ids) + self.wpe(pos)
        cache = []
        for i, blk in enumerate(self.blocks):
            x, kv = blk(x, None if past is None else past[i])
            cache.append(kv)
        return self.lnf(x) @ self.wte.weight.t(), cache


def timed(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@torch.no_grad()
def sample(model, prompts, new_tokens, gen):
    """KV-cache sampling at temperature 1 (Gumbel-max, as the project); returns new tokens per second."""
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    logits, cache = model(prompts)
    pos = prompts.shape[1]
    for _ in range(new_tokens):
        last = logits[:, -1].log_softmax(-1)
        u = torch.rand(last.shape, device=last.device, generator=gen).clamp_min(1e-20)
        nxt = (last - torch.log(-torch.log(u))).argmax(-1, keepdim=True)
        nxt.cpu()  # the project reads back the sampled ids each step; so does this
        logits, cache = model(nxt, cache, pos)
        pos += 1
    torch.cuda.synchronize()
    return prompts.shape[0] * new_tokens / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=32)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--sample-tokens", type=int, default=64)
    ap.add_argument("--no-sample", action="store_true")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"error": f"no CUDA device (torch {torch.__version__}, CUDA build {torch.version.cuda})"}))
        return
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    model = GPT(a.vocab, a.d_model, a.layers, a.heads, max(a.seq + 1, 16 + a.sample_tokens + 1)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq + 1), device=dev)

    def step():
        logits, _ = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()  # the project awaits the loss each step

    out = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "train_step_ms": 1000 * timed(step, a.warmup, a.steps),
    }
    if not a.no_sample:
        gen = torch.Generator(device=dev).manual_seed(0)
        model.eval()
        prompts = torch.randint(0, a.vocab, (8, 16), device=dev).repeat_interleave(8, 0)
        sample(model, prompts[:8], 4, gen)  # warm-up
        out["sample_tokens_per_s"] = statistics.median(sample(model, prompts, a.sample_tokens, gen) for _ in range(2))
    out["peak_mem_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out))


if __name__ == "__main__":
    main()
