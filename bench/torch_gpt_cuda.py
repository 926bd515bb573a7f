"""bench:gpu's reference: the project's tiny GPT (src/model/gpt.ts) in PyTorch on a CUDA device.

The model is bench/torch_gpt.py's (pre-LayerNorm blocks, fused qkv projection, causal attention, GELU
(tanh) MLP 4x, tied head, learned positions; Adam lr 1e-3, fp32), built with CUDA as torch's default
device so every tensor it makes lives on the GPU (torch >= 2.0); timings synchronise the device. Eager mode, no torch.compile, no TF32 (matching the project's
fp32 kernels). Sampling: 8 prompts of 16 tokens, each repeated for 8 completions (64 rows), KV cache,
temperature 1, like bench/gpu.ts's grouped sampler (which shares each prompt's prefix; here every row
runs its prompt). Prints one JSON line; without CUDA, a JSON line with "error" and exit status 0.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from torch_gpt import GPT  # same folder: bench/ here, the kit's folder on a device


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
    torch.set_default_device(dev)  # torch_gpt's positions and masks are made without a device argument
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
