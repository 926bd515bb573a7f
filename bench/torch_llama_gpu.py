#!/usr/bin/env python3
"""PyTorch side of bench/gpu_llm.ts (issue 20): a Qwen2-shaped model on CUDA (or the CPU for the dry
run), in fp32 or bf16, measuring the same two things as bench/torch_llama.py at the same shape:
KV-cache group sampling and one LoRA GRPO update. Standalone (the device kit carries this one file):
torch >= 1.13, no transformers import, no safetensors package.

Written from transformers' Qwen2 code (models/qwen2/modeling_qwen2.py: Qwen2RMSNorm, rotate_half /
apply_rotary_pos_emb, Qwen2MLP, Qwen2Attention with repeat_kv, Qwen2DecoderLayer; tied lm_head) and its
attention back ends (integrations/sdpa_attention.py, the default `attn_implementation="sdpa"`:
is_causal for a multi-token query without mask, none for one new token; eager_attention_forward where
torch has no scaled_dot_product_attention, i.e. torch < 2.0, Debian's 1.13 in the dry run).
bf16 is `from_pretrained(..., torch_dtype=torch.bfloat16)`: weights and activations bf16, RMSNorm
computed in fp32 and cast back (Qwen2RMSNorm.forward), RoPE cos/sin computed in fp32 and cast to the
activations' dtype (Qwen2RotaryEmbedding.forward), softmax in fp32 for eager attention. LoRA follows PEFT
(tuners/lora/layer.py, Linear.forward): y = base(x) + B(A(x))·alpha/r, A kaiming-uniform, B zeros;
get_peft_model's default autocast_adapter_dtype=True keeps the adapters in fp32 over a bf16 base, the
input is cast to the adapter's dtype and the sum cast back to the base output's dtype.

  torch_llama_gpu.py make DIR [--layers N ...]       random weights (seeded N(0, 0.02²), as
        transformers' initializer_range; norms 1, biases N(0, 0.02²)) + config.json, one BF16
        model.safetensors, written by hand; generated on the GPU when there is one (seconds, not minutes)
  torch_llama_gpu.py run DIR --dtype fp32|bf16 ...   sampling, then LoRA steps; one JSON line
        (times, peak memory, versions, and the mean token log-prob of the update batch before any update,
        which bench/gpu_llm.ts compares with the project's)

Inputs (prompts, the update batch, advantages) come from the same 31-bit LCG as bench/gpu_llm.ts, so both
sides see the same ids and the log-probs can be compared token by token.
"""
import argparse
import json
import math
import os
import platform
import struct
import sys
import time

import torch
import torch.nn.functional as F

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# ---------------------------------------------------------------- inputs shared with bench/gpu_llm.ts

class Lcg:
    """x ← (1103515245·x + 12345) mod 2³¹; the same sequence as gpu_llm.ts's lcg()."""

    def __init__(self, seed):
        self.x = seed % 2147483648

    def next(self):
        self.x = (1103515245 * self.x + 12345) % 2147483648
        return self.x

    def int(self, n):
        return self.next() % n

    def unit(self):
        return self.next() / 2147483648


def bench_inputs(V, prompts, prompt_len, lora_batch, lora_seq):
    """Prompts sharing all but their last 4 tokens; the update batch [B, S]; advantages in [-1, 1)."""
    r = Lcg(20)
    prefix = [r.int(V) for _ in range(prompt_len - 4)]
    ps = [prefix + [r.int(V) for _ in range(4)] for _ in range(prompts)]
    ids = [[r.int(V) for _ in range(lora_seq)] for _ in range(lora_batch)]
    adv = [2 * r.unit() - 1 for _ in range(lora_batch)]
    return ps, ids, adv


# ---------------------------------------------------------------- safetensors by hand (BF16)

def write_bf16_safetensors(path, tensors):
    header, off = {"__metadata__": {"format": "pt"}}, 0
    blobs = []
    for name, t in tensors:
        raw = t.detach().to(torch.bfloat16).contiguous().cpu().view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_bf16_safetensors(path, device, dtype):
    """name → tensor on `device` in `dtype`, one tensor at a time (no second copy of the file in memory)."""
    out = {}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        for name, e in header.items():
            if name == "__metadata__":
                continue
            if e["dtype"] != "BF16":
                raise ValueError(f"{path}: tensor {name} is {e['dtype']}, this reader takes BF16")
            a, b = e["data_offsets"]
            f.seek(8 + n + a)
            raw = torch.frombuffer(bytearray(f.read(b - a)), dtype=torch.int16)
            t = (raw.to(torch.int32) << 16).view(torch.float32).reshape(e["shape"])
            out[name] = t.to(device=device, dtype=dtype)
    return out


def pick_device(name):
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def make(a):
    dev = pick_device(a.device)
    d, I, H, K, V = a.hidden, a.mlp, a.heads, a.kv_heads, a.vocab
    hd = d // H
    cfg = dict(
        architectures=["Qwen2ForCausalLM"], model_type="qwen2", vocab_size=V, hidden_size=d,
        intermediate_size=I, num_hidden_layers=a.layers, num_attention_heads=H, num_key_value_heads=K,
        max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
        use_sliding_window=False, sliding_window=32768, max_window_layers=a.layers, hidden_act="silu",
        bos_token_id=151643, eos_token_id=151643, torch_dtype="bfloat16")
    g = torch.Generator(device=dev).manual_seed(a.seed)
    r = lambda *s: torch.randn(*s, generator=g, device=dev) * 0.02  # noqa: E731
    w = [("model.embed_tokens.weight", r(V, d))]
    for i in range(a.layers):
        p = f"model.layers.{i}."
        w.append((p + "input_layernorm.weight", torch.ones(d)))
        for nm, o, inp, bias in (("q_proj", H * hd, d, True), ("k_proj", K * hd, d, True), ("v_proj", K * hd, d, True),
                                 ("o_proj", d, H * hd, False)):
            w.append((p + f"self_attn.{nm}.weight", r(o, inp)))
            if bias:
                w.append((p + f"self_attn.{nm}.bias", r(o)))
        w.append((p + "post_attention_layernorm.weight", torch.ones(d)))
        w.append((p + "mlp.gate_proj.weight", r(I, d)))
        w.append((p + "mlp.up_proj.weight", r(I, d)))
        w.append((p + "mlp.down_proj.weight", r(d, I)))
    w.append(("model.norm.weight", torch.ones(d)))
    os.makedirs(a.dir, exist_ok=True)
    with open(os.path.join(a.dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_bf16_safetensors(os.path.join(a.dir, "model.safetensors"), w)
    print(json.dumps({"made": a.dir, "device": dev, "params": sum(t.numel() for _, t in w)}))


# ---------------------------------------------------------------- the model (modeling_qwen2.py)

def rms_norm(x, w, eps):
    """Qwen2RMSNorm: variance in fp32, normalised, cast back, times the weight."""
    dt = x.dtype
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return w * h.to(dt)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def repeat_kv(x, n):
    if n == 1:
        return x
    b, k, t, hd = x.shape
    return x[:, :, None].expand(b, k, n, t, hd).reshape(b, k * n, t, hd)


HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


class Qwen2:
    def __init__(self, cfg, W, dtype, device):
        self.cfg, self.W, self.dtype, self.device = cfg, W, dtype, device
        self.H, self.K = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        self.hd = cfg["hidden_size"] // self.H
        self.eps = cfg["rms_norm_eps"]
        # Qwen2RotaryEmbedding (rope_type default): inv_freq = 1 / θ^(2i/d), fp32
        self.inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, self.hd, 2, dtype=torch.float32, device=device) / self.hd))
        self.lora = {}

    def enable_lora(self, r, alpha, seed=0):
        """PEFT defaults: A ~ kaiming_uniform(a=√5) = U(±1/√in), B = 0; fp32 (autocast_adapter_dtype)."""
        g = torch.Generator(device="cpu").manual_seed(seed)
        self.scale = alpha / r
        for i in range(self.cfg["num_hidden_layers"]):
            for t in TARGETS:
                mod = f"model.layers.{i}.{'mlp' if t in ('gate_proj', 'up_proj', 'down_proj') else 'self_attn'}.{t}"
                out_f, in_f = self.W[mod + ".weight"].shape
                A = ((torch.rand(r, in_f, generator=g) * 2 - 1) / math.sqrt(in_f)).to(self.device)
                B = torch.zeros(out_f, r, device=self.device)
                self.lora[mod] = (A.requires_grad_(), B.requires_grad_())

    def params(self):
        return [p for ab in self.lora.values() for p in ab]

    def lin(self, x, mod):
        y = F.linear(x, self.W[mod + ".weight"], self.W.get(mod + ".bias"))
        if mod in self.lora:
            A, B = self.lora[mod]
            y = (y + F.linear(F.linear(x.to(A.dtype), A), B) * self.scale).to(y.dtype)
        return y

    def rope(self, start, T):
        pos = torch.arange(start, start + T, device=self.device, dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(self.dtype)[None, None], emb.sin().to(self.dtype)[None, None]

    def attend(self, q, k, v):
        T = q.shape[2]
        k, v = repeat_kv(k, self.H // self.K), repeat_kv(v, self.H // self.K)
        if HAS_SDPA:
            return F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
        s = (q @ k.transpose(2, 3)) * self.hd ** -0.5
        if T > 1:
            Tk = k.shape[2]
            s = s + torch.full((T, Tk), float("-inf"), device=self.device).triu(Tk - T + 1).to(s.dtype)
        return torch.softmax(s, dim=-1, dtype=torch.float32).to(q.dtype) @ v

    def hidden(self, ids, start=0, cache=None):
        B, T = ids.shape
        hd = self.hd
        cos, sin = self.rope(start, T)
        x = self.W["model.embed_tokens.weight"][ids]
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = rms_norm(x, self.W[p + "input_layernorm.weight"], self.eps)
            q = self.lin(h, p + "self_attn.q_proj").view(B, T, -1, hd).transpose(1, 2)
            k = self.lin(h, p + "self_attn.k_proj").view(B, T, -1, hd).transpose(1, 2)
            v = self.lin(h, p + "self_attn.v_proj").view(B, T, -1, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if cache is not None:  # DynamicCache.update: concatenate along the sequence axis
                if i in cache:
                    k = torch.cat([cache[i][0], k], 2)
                    v = torch.cat([cache[i][1], v], 2)
                cache[i] = (k, v)
            a = self.attend(q, k, v)
            x = x + self.lin(a.transpose(1, 2).reshape(B, T, -1), p + "self_attn.o_proj")
            h = rms_norm(x, self.W[p + "post_attention_layernorm.weight"], self.eps)
            x = x + self.lin(F.silu(self.lin(h, p + "mlp.gate_proj")) * self.lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        return rms_norm(x, self.W["model.norm.weight"], self.eps)

    def logits(self, h):
        return F.linear(h, self.W["model.embed_tokens.weight"])  # tied lm_head


# ---------------------------------------------------------------- what is measured

def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def sample(m, prompts, group, new_tokens, seed):
    """generate(do_sample=True): each prompt repeated `group` times in one batch (no prefix sharing),
    prefill, then one token at a time with the cache; softmax + multinomial as _sample does. The host
    reads one value per step, as generate's unfinished-sequences check does."""
    torch.manual_seed(seed)
    ids = torch.tensor([p for p in prompts for _ in range(group)], device=m.device)
    with torch.no_grad():
        cache = {}
        h = m.hidden(ids, 0, cache)
        nxt = torch.multinomial(torch.softmax(m.logits(h[:, -1]).float(), -1), 1)
        for s in range(1, new_tokens):
            h = m.hidden(nxt, ids.shape[1] + s - 1, cache)
            nxt = torch.multinomial(torch.softmax(m.logits(h[:, -1]).float(), -1), 1)
            bool((nxt >= 0).all())  # the per-step host sync of generate's stopping check


def selective_log_softmax(logits, index):
    """TRL's trainer/utils.py: fp32 logits → gather − logsumexp row by row; bf16 → log_softmax row by row."""
    if logits.dtype in (torch.float32, torch.float64):
        picked = torch.gather(logits, -1, index[..., None])[..., 0]
        return picked - torch.stack([torch.logsumexp(row, -1) for row in logits])
    return torch.stack([torch.log_softmax(row, -1).gather(-1, ix[:, None])[:, 0] for row, ix in zip(logits, index)])


def token_logps(m, ids):
    return selective_log_softmax(m.logits(m.hidden(ids[:, :-1])), ids[:, 1:])


def lora_step(m, opt, ids, adv):
    """TRL GRPO with num_iterations 1: ratio against the detached log-probs, clipped surrogate (ε 0.2),
    per-sequence token mean then batch mean; backward; Adam on the adapters."""
    logp = token_logps(m, ids).float()
    ratio = torch.exp(logp - logp.detach())
    a = adv[:, None]
    loss = (-torch.min(ratio * a, torch.clamp(ratio, 0.8, 1.2) * a)).mean(1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def vm_hwm_mb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(a):
    dev = pick_device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[a.dtype]
    t_load = time.perf_counter()
    cfg = json.load(open(os.path.join(a.dir, "config.json")))
    m = Qwen2(cfg, read_bf16_safetensors(os.path.join(a.dir, "model.safetensors"), dev, dtype), dtype, dev)
    sync(dev)
    load_s = time.perf_counter() - t_load
    V = cfg["vocab_size"]
    prompts, ids_l, adv_l = bench_inputs(V, a.prompts, a.prompt_len, a.lora_batch, a.lora_seq)
    ids = torch.tensor(ids_l, device=dev)
    adv = torch.tensor(adv_l, device=dev)

    t0 = time.perf_counter()
    with torch.no_grad():  # the base model's log-probs of the update batch, for the cross-check
        logp0 = token_logps(m, ids).float()
    sync(dev)
    logp_s = time.perf_counter() - t0
    if a.logp_out:
        with open(a.logp_out, "w") as f:
            json.dump(logp0.cpu().tolist(), f)

    sample(m, prompts, a.group, 2, 0)  # warm-up: kernels, cuBLAS handles, the allocator's pools
    sync(dev)
    t0 = time.perf_counter()
    sample(m, prompts, a.group, a.new, 1)
    sync(dev)
    sample_s = time.perf_counter() - t0

    out = {
        "side": f"pytorch-{a.dtype}", "device": torch.cuda.get_device_name(0) if dev == "cuda" else f"cpu ({platform.machine()})",
        "dtype": a.dtype, "torch": torch.__version__, "cuda": torch.version.cuda, "attention": "sdpa" if HAS_SDPA else "eager",
        "tf32": bool(dev == "cuda" and torch.backends.cuda.matmul.allow_tf32), "load_s": load_s, "logp_s": logp_s, "logp_mean": float(logp0.mean()),
        "sample_s": sample_s, "tokens_per_s": a.prompts * a.group * a.new / sample_s,
    }
    emit(out, dev)  # a partial line: what a run cut short by the budget still reports

    m.enable_lora(a.rank, 2 * a.rank)
    opt = torch.optim.Adam(m.params(), lr=1e-5)
    times = []
    for _ in range(a.steps):
        sync(dev)
        t0 = time.perf_counter()
        loss = lora_step(m, opt, ids, adv)
        float(loss)
        sync(dev)
        times.append(time.perf_counter() - t0)
    timed = times[1:] if len(times) > 1 else times  # the first step pays for first-use costs
    out.update(lora_step_s=sorted(timed)[len(timed) // 2], lora_steps_s=times)
    emit(out, dev)


def emit(out, dev):
    """Prints the result so far as one JSON line, with the peaks so far (GPU: the caching allocator's)."""
    out["peak_rss_mb"] = vm_hwm_mb()
    if dev == "cuda":
        out["peak_gpu_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
        out["peak_gpu_reserved_mb"] = torch.cuda.max_memory_reserved() / 2**20
    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["make", "run"])
    ap.add_argument("dir")
    ap.add_argument("--device", default="auto", help="cuda, cpu or auto (cuda when available)")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--logp-out", default="", help="write the update batch's base log-probs [B][S-1] here (JSON)")
    for k, v in dict(layers=24, hidden=896, heads=14, kv_heads=2, mlp=4864, vocab=151936, seed=0, threads=0, prompts=4, group=8,
                     new=128, prompt_len=64, lora_batch=8, lora_seq=256, rank=16, steps=3).items():
        ap.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    a = ap.parse_args()
    make(a) if a.cmd == "make" else run(a)


if __name__ == "__main__":
    sys.exit(main())
