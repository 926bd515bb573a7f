#!/usr/bin/env python3
"""PyTorch side of bench/llm.ts: a Qwen2-shaped model (written from transformers' modeling_qwen2.py;
forward pieces from scripts/hf_reference.py), Debian python3-torch 1.13, no transformers import.

  torch_llama.py make DIR --layers N [--hidden ..]   random weights (std 0.02, as initializer_range) +
                                                     config.json, one BF16 model.safetensors
  torch_llama.py run DIR --threads N ...             KV-cache group sampling, then LoRA GRPO steps;
                                                     prints one JSON line with times and VmHWM
"""
import argparse
import json
import os
import struct
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from hf_reference import repeat_kv, rms_norm, rope_inv_freq, rotate_half, write_safetensors  # noqa: E402

torch.set_grad_enabled(True)  # hf_reference turns autograd off at import

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def make(a):
    cfg = dict(
        architectures=["Qwen2ForCausalLM"], model_type="qwen2", vocab_size=a.vocab, hidden_size=a.hidden,
        intermediate_size=a.mlp, num_hidden_layers=a.layers, num_attention_heads=a.heads,
        num_key_value_heads=a.kv_heads, max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0,
        tie_word_embeddings=True, use_sliding_window=False, sliding_window=32768, max_window_layers=a.layers,
        hidden_act="silu", bos_token_id=151643, eos_token_id=151643, torch_dtype="bfloat16")
    g = torch.Generator().manual_seed(0)
    d, I, H, K = a.hidden, a.mlp, a.heads, a.kv_heads
    hd = d // H
    r = lambda *s: torch.randn(*s, generator=g) * 0.02
    w = [("model.embed_tokens.weight", r(a.vocab, d))]
    for i in range(a.layers):
        p = f"model.layers.{i}."
        w.append((p + "input_layernorm.weight", torch.ones(d)))
        for nm, o, inp, b in (("q_proj", H * hd, d, True), ("k_proj", K * hd, d, True), ("v_proj", K * hd, d, True), ("o_proj", d, H * hd, False)):
            w.append((p + f"self_attn.{nm}.weight", r(o, inp)))
            if b:
                w.append((p + f"self_attn.{nm}.bias", r(o)))
        w.append((p + "post_attention_layernorm.weight", torch.ones(d)))
        w.append((p + "mlp.gate_proj.weight", r(I, d)))
        w.append((p + "mlp.up_proj.weight", r(I, d)))
        w.append((p + "mlp.down_proj.weight", r(d, I)))
    w.append(("model.norm.weight", torch.ones(d)))
    os.makedirs(a.dir, exist_ok=True)
    with open(os.path.join(a.dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(a.dir, "model.safetensors"), w, "BF16")


def load(d):
    """fp32 weights, read tensor by tensor (like transformers' loading: no second copy of the file)."""
    path = os.path.join(d, "model.safetensors")
    W = {}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        for name, e in header.items():
            if name == "__metadata__":
                continue
            a, b = e["data_offsets"]
            f.seek(8 + n + a)
            buf = bytearray(f.read(b - a))
            assert e["dtype"] == "BF16"
            t = (torch.frombuffer(buf, dtype=torch.int16).to(torch.int32) << 16).view(torch.float32)
            W[name] = t.reshape(e["shape"]).clone()
    return W


def vm_hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Model:
    """Qwen2ForCausalLM's forward with an optional PEFT-style LoRA on every target linear and HF's
    DynamicCache semantics (K/V concatenated each step, repeat_kv before attention)."""

    def __init__(self, cfg, W):
        self.cfg, self.W, self.lora = cfg, W, {}
        self.H, self.K = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        self.hd = cfg["hidden_size"] // self.H
        self.inv_freq = rope_inv_freq(cfg)

    def enable_lora(self, r, alpha, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.scale = alpha / r
        for i in range(self.cfg["num_hidden_layers"]):
            for t in TARGETS:
                mod = f"model.layers.{i}.{'mlp' if t in ('gate_proj', 'up_proj', 'down_proj') else 'self_attn'}.{t}"
                out_f, in_f = self.W[mod + ".weight"].shape
                # PEFT: A kaiming-uniform, B zeros; B small nonzero here so every gradient is exercised
                A = (torch.rand(r, in_f, generator=g) * 2 - 1) * (1 / in_f) ** 0.5
                B = torch.randn(out_f, r, generator=g) * 1e-3
                self.lora[mod] = (A.requires_grad_(), B.requires_grad_())

    def params(self):
        return [p for ab in self.lora.values() for p in ab]

    def lin(self, x, mod):
        y = torch.nn.functional.linear(x, self.W[mod + ".weight"], self.W.get(mod + ".bias"))
        if mod in self.lora:
            A, B = self.lora[mod]
            y = y + (x @ A.t() @ B.t()) * self.scale
        return y

    def hidden(self, ids, start=0, cache=None):
        B, T = ids.shape
        H, K, hd, eps = self.H, self.K, self.hd, self.cfg["rms_norm_eps"]
        pos = torch.arange(start, start + T)[None, :].float()
        freqs = (self.inv_freq[None, :, None].float() @ pos[:, None, :]).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        x = self.W["model.embed_tokens.weight"][ids]
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = rms_norm(x, self.W[p + "input_layernorm.weight"], eps)
            q = self.lin(h, p + "self_attn.q_proj").view(B, T, -1, hd).transpose(1, 2)
            k = self.lin(h, p + "self_attn.k_proj").view(B, T, -1, hd).transpose(1, 2)
            v = self.lin(h, p + "self_attn.v_proj").view(B, T, -1, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if cache is not None:
                if i in cache:
                    k = torch.cat([cache[i][0], k], 2)
                    v = torch.cat([cache[i][1], v], 2)
                cache[i] = (k, v)
            kk, vv = repeat_kv(k, H // K), repeat_kv(v, H // K)
            s = q @ kk.transpose(2, 3) * hd ** -0.5
            if T > 1:
                Tk = kk.shape[2]
                s = s + torch.full((T, Tk), float("-inf")).triu(Tk - T + 1)
            a = torch.softmax(s.float(), dim=-1) @ vv
            x = x + self.lin(a.transpose(1, 2).reshape(B, T, -1), p + "self_attn.o_proj")
            h = rms_norm(x, self.W[p + "post_attention_layernorm.weight"], eps)
            x = x + self.lin(torch.nn.functional.silu(self.lin(h, p + "mlp.gate_proj")) * self.lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        return rms_norm(x, self.W["model.norm.weight"], eps)

    def logits(self, h):
        return h @ self.W["model.embed_tokens.weight"].t()


def sample(m, prompts, group, new_tokens, seed):
    """HF generate-style: each prompt repeated `group` times in one batch, prefill, then decode with the cache."""
    torch.manual_seed(seed)
    ids = torch.tensor([p for p in prompts for _ in range(group)])
    with torch.no_grad():
        cache = {}
        h = m.hidden(ids, 0, cache)
        nxt = torch.multinomial(torch.softmax(m.logits(h[:, -1]), -1), 1)
        out = [nxt]
        for s in range(1, new_tokens):
            h = m.hidden(nxt, ids.shape[1] + s - 1, cache)
            nxt = torch.multinomial(torch.softmax(m.logits(h[:, -1]), -1), 1)
            out.append(nxt)
    return torch.cat(out, 1)


def lora_step(m, opt, ids, adv):
    """TRL GRPO (num_iterations 1): token log-probs from full logits, ratio against the detached log-probs,
    clipped surrogate (eps 0.2), loss_type 'grpo' (per-sequence token mean, then batch mean); Adam."""
    logits = m.logits(m.hidden(ids[:, :-1]))
    logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]
    ratio = torch.exp(logp - logp.detach())
    a = adv[:, None]
    per_token = -torch.min(ratio * a, torch.clamp(ratio, 0.8, 1.2) * a)
    loss = per_token.mean(1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss)


def run(a):
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.dir, "config.json")))
    m = Model(cfg, load(a.dir))
    V = cfg["vocab_size"]
    g = torch.Generator().manual_seed(1)
    prefix = torch.randint(0, V, (a.prompt_len,), generator=g).tolist()
    prompts = [prefix[: a.prompt_len - 4] + torch.randint(0, V, (4,), generator=g).tolist() for _ in range(a.prompts)]
    sample(m, prompts[:1], 2, 2, 0)  # warm-up
    t0 = time.perf_counter()
    sample(m, prompts, a.group, a.new, 1)
    sample_s = time.perf_counter() - t0
    m.enable_lora(a.rank, 2 * a.rank)
    opt = torch.optim.Adam(m.params(), lr=1e-5)
    ids = torch.randint(0, V, (a.lora_batch, a.lora_seq), generator=g)
    adv = torch.randn(a.lora_batch, generator=g)
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        lora_step(m, opt, ids, adv)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"side": "pytorch", "threads": a.threads, "sample_s": sample_s,
                      "tokens_per_s": a.prompts * a.group * a.new / sample_s, "lora_step_s": times[-1],
                      "lora_steps_s": times, "peak_rss_mb": vm_hwm_mb()}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["make", "run"])
    ap.add_argument("dir")
    for k, v in dict(layers=24, hidden=896, heads=14, kv_heads=2, mlp=4864, vocab=151936, threads=1, prompts=4, group=8,
                     new=128, prompt_len=64, lora_batch=8, lora_seq=256, rank=16, steps=2).items():
        ap.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    a = ap.parse_args()
    make(a) if a.cmd == "make" else run(a)


if __name__ == "__main__":
    main()
