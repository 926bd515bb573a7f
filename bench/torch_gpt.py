"""The bench's reference: the same tiny GPT as igrpo-ts's src/model/gpt.ts, in PyTorch.

Pre-LayerNorm blocks, fused qkv projection, causal attention, GELU (tanh) MLP 4x, tied head, Adam.
Run by Debian's python3-torch (/usr/bin/python3). Prints one JSON line with the timings.
The GRPO update step mirrors src/rl/update.ts on the same batch (bench/cpu_worker.ts's UPDATE): each row
a 16-token prompt and its completion, log-probs of logits / temperature, the clipped ratio loss averaged
per completion then over completions (loss type grpo), the clip counts read back, gradient clipping to
norm 1, Adam. Sampling uses a KV cache; the grouped case runs every completion's prompt separately (no prefix
sharing), which is what the project's shared-prefix sampler is compared against.
"""
import argparse
import json
import math
import resource
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
        mask = torch.ones(t, tk, dtype=torch.bool).tril(tk - t)
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
        x = self.wte(ids) + self.wpe(torch.arange(start, start + t))
        cache = []
        for i, blk in enumerate(self.blocks):
            x, kv = blk(x, None if past is None else past[i])
            cache.append(kv)
        return self.lnf(x) @ self.wte.weight.t(), cache


def median_time(fn, warmup, reps):
    """Median wall-clock and process CPU seconds per call (CPU time is steadier on shared cores)."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


@torch.no_grad()
def sample(model, prompts, new_tokens, gen):
    """KV-cache sampling at temperature 1; prompts [B, P]. Returns new tokens per second (wall, CPU)."""
    t0, c0 = time.perf_counter(), time.process_time()
    logits, cache = model(prompts)
    pos = prompts.shape[1]
    for _ in range(new_tokens):
        nxt = torch.multinomial(logits[:, -1].softmax(-1), 1, generator=gen)
        logits, cache = model(nxt, cache, pos)
        pos += 1
    n = prompts.shape[0] * new_tokens
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=32)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--sample-reps", type=int, default=2)
    ap.add_argument("--no-sample", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = GPT(a.vocab, a.d_model, a.layers, a.heads, max(a.max_len, a.seq + 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq + 1))

    def step():
        logits, _ = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # the GRPO update: as src/rl/update.ts policyUpdate with one micro-batch, beta 0, one iteration
    prompt_len, temperature, eps = 16, 0.7, 0.2
    adv = torch.tensor([((i % 4) - 1.5) / 1.1 for i in range(a.batch)]).unsqueeze(1)
    mask = torch.zeros(a.batch, a.seq)
    mask[:, prompt_len - 1:] = 1  # log-prob entry t predicts token t + 1: the completion starts at prompt_len

    def update_step():
        logits, _ = model(ids[:, :-1])
        logp = torch.log_softmax(logits / temperature, -1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        ratio = torch.exp(logp - logp.detach())
        per_token = -torch.min(ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv)
        loss = ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1)).sum() / a.batch
        clipped = ((((ratio < 1 - eps) & (adv < 0)) | ((ratio > 1 + eps) & (adv > 0))).float() * mask).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item(), clipped.item(), norm.item()  # the project reads these back too

    for _ in range(a.warmup):  # warm both up first, as the project's side does
        step()
        update_step()
    wall, cpu = median_time(step, 0, a.steps)
    uwall, ucpu = median_time(update_step, 0, a.steps)
    out = {"threads": torch.get_num_threads(), "torch": torch.__version__, "train_step_ms": 1000 * wall, "train_step_cpu_ms": 1000 * cpu,
           "update_step_ms": 1000 * uwall, "update_step_cpu_ms": 1000 * ucpu}
    if not a.no_sample:
        gen = torch.Generator().manual_seed(0)
        model.eval()
        prompts = torch.randint(0, a.vocab, (64, 16))
        # 8 groups x 8 completions after a 192-token prompt, each completion running its own prompt
        groups = torch.randint(0, a.vocab, (8, 192)).repeat_interleave(8, 0)
        for key, p in (("sample", prompts), ("group_sample", groups)):
            sample(model, p, 64, gen)  # warm-up, as the project's side does
            runs = [sample(model, p, 64, gen) for _ in range(a.sample_reps)]
            out[key + "_tokens_per_s"] = statistics.median(r[0] for r in runs)
            out[key + "_cpu_tokens_per_s"] = statistics.median(r[1] for r in runs)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
