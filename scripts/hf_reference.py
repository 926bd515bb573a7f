#!/usr/bin/env python3
"""Independent PyTorch references for the Llama-family policy (src/model/llama.ts).

Debian python3-torch 1.13 only (no transformers): the forward below is written from transformers'
modeling_llama.py / modeling_qwen2.py / modeling_qwen3.py / modeling_rope_utils.py, and safetensors
files are written by hand (BF16 as the high half of fp32).

  hf_reference.py fixtures OUT   tiny random checkpoints of each family in HF layout under OUT/<name>/,
                                 each with reference.json: ids, logits [B][T][V] and log-probs [B][T-1]
  hf_reference.py forward DIR IDS_JSON [ADAPTER_DIR]
                                 logits of a saved HF folder (config.json + model.safetensors or shards,
                                 read by hand), with a PEFT LoRA adapter merged as W + alpha/r·B·A when given
  hf_reference.py llama2c BIN N  greedy tokens from BOS=1 of a llama2.c checkpoint, with llama2.c's
                                 forward (run.c semantics: interleaved RoPE pairs, one position at a time)
"""
import json
import math
import os
import struct
import sys

import torch

torch.set_grad_enabled(False)


# ---------------------------------------------------------------- safetensors (hand-written)

def write_safetensors(path, tensors, dtype="BF16"):
    """tensors: list of (name, float tensor). Little-endian data, 8-byte aligned header."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors:
        t = t.contiguous()
        if dtype == "BF16":
            raw = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        elif dtype == "F16":
            raw = t.to(torch.float16).numpy().tobytes()
        else:
            raw = t.to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """name -> fp32 tensor, for F32 / F16 / BF16 files."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8: 8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        buf = bytearray(raw[8 + n + a: 8 + n + b])
        if e["dtype"] == "F32":
            t = torch.frombuffer(buf, dtype=torch.float32)
        elif e["dtype"] == "F16":
            t = torch.frombuffer(buf, dtype=torch.float16).float()
        elif e["dtype"] == "BF16":
            t = (torch.frombuffer(buf, dtype=torch.int16).to(torch.int32) << 16).view(torch.float32)
        else:
            raise ValueError(f"{path}: dtype {e['dtype']}")
        out[name] = t.reshape(e["shape"]).clone()
    return out


def read_folder(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        W = {}
        for shard in sorted(set(json.load(open(idx))["weight_map"].values())):
            W.update(read_safetensors(os.path.join(d, shard)))
        return W
    return read_safetensors(os.path.join(d, "model.safetensors"))


def merge_peft(W, adapter_dir):
    """W + (lora_alpha / r) · B·A for every module of a PEFT adapter (keys base_model.model.<module>.lora_A/B.weight)."""
    cfg = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    assert cfg["peft_type"] == "LORA" and cfg["bias"] == "none"
    scale = cfg["lora_alpha"] / cfg["r"]
    A = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    W = dict(W)
    for k, a in A.items():
        if ".lora_A." not in k:
            continue
        module = k[len("base_model.model."): -len(".lora_A.weight")]
        b = A[k.replace(".lora_A.", ".lora_B.")]
        W[module + ".weight"] = W[module + ".weight"] + scale * (b @ a)
    return W


def as_stored(t, dtype):
    """The fp32 values a file in `dtype` holds for t (what a loader must reproduce)."""
    return t.to({"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}[dtype]).float()


# ---------------------------------------------------------------- configs

FIXTURES = {
    # Llama 3.x style: GQA 4/2, llama3 rope scaling with a medium-frequency band, untied, old config form
    "llama": dict(
        architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=99, hidden_size=32,
        intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=500000.0,
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_max_position_embeddings=256),
        attention_bias=False, mlp_bias=False, tie_word_embeddings=False, hidden_act="silu",
        bos_token_id=1, eos_token_id=2, torch_dtype="bfloat16"),
    # SmolLM2 style: Llama, tied, multi-query (1 kv head), theta 1e5; written in F16
    "llama_tied": dict(
        architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=99, hidden_size=32,
        intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
        max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=100000.0, rope_scaling=None,
        tie_word_embeddings=True, hidden_act="silu", bos_token_id=1, eos_token_id=2, torch_dtype="float16"),
    # Qwen2.5 style: q/k/v biases, tied, GQA 4/2, sharded checkpoint
    "qwen2": dict(
        architectures=["Qwen2ForCausalLM"], model_type="qwen2", vocab_size=99, hidden_size=32,
        intermediate_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=512, rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
        use_sliding_window=False, sliding_window=4096, max_window_layers=21, hidden_act="silu",
        bos_token_id=1, eos_token_id=2, torch_dtype="bfloat16"),
    # Qwen3 style: head_dim 16 != 32/4, q/k norm, untied, new config form (rope_parameters, dtype, layer_types)
    "qwen3": dict(
        architectures=["Qwen3ForCausalLM"], model_type="qwen3", vocab_size=99, hidden_size=32,
        intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        max_position_embeddings=512, rms_norm_eps=1e-6,
        rope_parameters=dict(rope_theta=1000000.0, rope_type="default"),
        attention_bias=False, tie_word_embeddings=False, use_sliding_window=False, sliding_window=None,
        layer_types=["full_attention", "full_attention"], hidden_act="silu",
        bos_token_id=1, eos_token_id=[2, 3], dtype="bfloat16"),
}
SHARDED = {"qwen2"}
DTYPES = {"llama_tied": "F16"}  # the others are BF16


def family(cfg):
    return {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3"}[cfg["architectures"][0]]


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def random_weights(cfg, seed):
    """HF-named weights [out, in]; non-trivial norms and biases so every parameter matters."""
    g = torch.Generator().manual_seed(seed)
    d, hd, H, K, I, V = cfg["hidden_size"], head_dim(cfg), cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["intermediate_size"], cfg["vocab_size"]
    fam = family(cfg)
    qkv_bias = fam == "qwen2" or cfg.get("attention_bias", False)
    o_bias = fam != "qwen2" and cfg.get("attention_bias", False)
    r = lambda *s: torch.randn(*s, generator=g) * 0.2
    n = lambda *s: 1 + torch.randn(*s, generator=g) * 0.1
    w = [("model.embed_tokens.weight", torch.randn(V, d, generator=g))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w.append((p + "input_layernorm.weight", n(d)))
        for nm, o, inp, b in (("q_proj", H * hd, d, qkv_bias), ("k_proj", K * hd, d, qkv_bias), ("v_proj", K * hd, d, qkv_bias), ("o_proj", d, H * hd, o_bias)):
            w.append((p + f"self_attn.{nm}.weight", r(o, inp)))
            if b:
                w.append((p + f"self_attn.{nm}.bias", r(o)))
        if fam == "qwen3":
            w.append((p + "self_attn.q_norm.weight", n(hd)))
            w.append((p + "self_attn.k_norm.weight", n(hd)))
        w.append((p + "post_attention_layernorm.weight", n(d)))
        w.append((p + "mlp.gate_proj.weight", r(I, d)))
        w.append((p + "mlp.up_proj.weight", r(I, d)))
        w.append((p + "mlp.down_proj.weight", r(d, I)))
    w.append(("model.norm.weight", n(d)))
    if not cfg["tie_word_embeddings"]:
        w.append(("lm_head.weight", r(V, d)))
    return w


# ---------------------------------------------------------------- forward (from transformers' modeling code)

def rope_inv_freq(cfg):
    p = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    base = (cfg.get("rope_parameters") or {}).get("rope_theta") or cfg.get("rope_theta", 10000.0)
    dim = head_dim(cfg)
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    if p.get("rope_type", p.get("type", "default")) != "llama3":
        return inv_freq
    factor, low, high = p["factor"], p["low_freq_factor"], p["high_freq_factor"]
    old = p["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv_freq
    inv_llama = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * inv_llama / factor + smooth * inv_llama
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, inv_llama)


def rms_norm(x, w, eps):
    x32 = x.float()
    var = x32.pow(2).mean(-1, keepdim=True)
    return w * (x32 * torch.rsqrt(var + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, h, t, d = x.shape
    return x if n_rep == 1 else x[:, :, None, :, :].expand(b, h, n_rep, t, d).reshape(b, h * n_rep, t, d)


def hf_forward(cfg, W, ids):
    """logits [B, T, V] for ids [B, T] (positions 0..T-1), as LlamaForCausalLM / Qwen2 / Qwen3 compute them."""
    fam = family(cfg)
    B, T = ids.shape
    H, K, hd, eps = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim(cfg), cfg["rms_norm_eps"]
    lin = lambda x, name: torch.nn.functional.linear(x, W[name + ".weight"], W.get(name + ".bias"))
    inv_freq = rope_inv_freq(cfg)
    pos = torch.arange(T)[None, :].float()
    freqs = (inv_freq[None, :, None].float() @ pos[:, None, :]).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]  # [1, 1, T, hd]
    mask = torch.full((T, T), float("-inf")).triu(1)
    x = W["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(B, T, -1, hd)
        k = lin(h, p + "self_attn.k_proj").view(B, T, -1, hd)
        v = lin(h, p + "self_attn.v_proj").view(B, T, -1, hd).transpose(1, 2)
        if fam == "qwen3":
            q = rms_norm(q, W[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, H // K), repeat_kv(v, H // K)
        s = q @ k.transpose(2, 3) * hd ** -0.5 + mask
        a = torch.softmax(s.float(), dim=-1) @ v
        x = x + lin(a.transpose(1, 2).reshape(B, T, -1), p + "self_attn.o_proj")
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(torch.nn.functional.silu(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return x @ head.T


def token_logprobs(logits, ids):
    lp = torch.log_softmax(logits[:, :-1].double(), -1)
    return lp.gather(-1, ids[:, 1:, None])[..., 0]


def make_fixtures(out):
    for k, (name, cfg) in enumerate(FIXTURES.items()):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        weights = random_weights(cfg, seed=1000 + k)
        dtype = DTYPES.get(name, "BF16")
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        if name in SHARDED:
            half = len(weights) // 2
            shards = [("model-00001-of-00002.safetensors", weights[:half]), ("model-00002-of-00002.safetensors", weights[half:])]
            wm = {}
            for fn, part in shards:
                write_safetensors(os.path.join(d, fn), part, dtype)
                wm.update({n: fn for n, _ in part})
            with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f, indent=2)
        else:
            write_safetensors(os.path.join(d, "model.safetensors"), weights, dtype)
        W = {n: as_stored(t, dtype) for n, t in weights}
        g = torch.Generator().manual_seed(7 + k)
        ids = torch.randint(0, cfg["vocab_size"], (2, 11), generator=g)
        logits = hf_forward(cfg, W, ids)
        ref = {"ids": ids.tolist(), "logits": logits.tolist(), "logprobs": token_logprobs(logits, ids).tolist()}
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump(ref, f)
    print(json.dumps(sorted(FIXTURES)))


# ---------------------------------------------------------------- llama2.c (run.c semantics)

def read_llama2c(path):
    with open(path, "rb") as f:
        raw = f.read()
    dim, hidden, L, H, K, vocab, seq = struct.unpack("<7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    data = torch.frombuffer(bytearray(raw[28:]), dtype=torch.float32)
    hs = dim // H
    off = 0

    def take(*shape):
        nonlocal off
        n = 1
        for s in shape:
            n *= s
        t = data[off: off + n].view(*shape).clone()
        off += n
        return t

    w = {"emb": take(vocab, dim), "att_norm": take(L, dim), "wq": take(L, dim, dim), "wk": take(L, K * hs, dim),
         "wv": take(L, K * hs, dim), "wo": take(L, dim, dim), "ffn_norm": take(L, dim), "w1": take(L, hidden, dim),
         "w2": take(L, dim, hidden), "w3": take(L, hidden, dim), "final_norm": take(dim)}
    off += seq * hs // 2 * 2  # the two unused RoPE tables
    w["cls"] = w["emb"] if shared else take(vocab, dim)
    return dict(dim=dim, hidden=hidden, layers=L, heads=H, kv_heads=K, vocab=vocab, seq=seq), w


def llama2c_greedy(path, steps):
    """Greedy tokens after BOS=1, one position at a time with a KV cache, rotating interleaved pairs."""
    c, w = read_llama2c(path)
    dim, H, K, L = c["dim"], c["heads"], c["kv_heads"], c["layers"]
    hs = dim // H
    kvd = K * hs
    eps = 1e-5
    norm = lambda x, g: g * (x / torch.sqrt((x * x).mean() + eps))
    kc = torch.zeros(L, c["seq"], kvd)
    vc = torch.zeros(L, c["seq"], kvd)
    token, out = 1, []
    for pos in range(steps):
        x = w["emb"][token].clone()
        for l in range(L):
            xb = norm(x, w["att_norm"][l])
            q, k, v = w["wq"][l] @ xb, w["wk"][l] @ xb, w["wv"][l] @ xb
            # rotate each (i, i+1) pair of every head by pos · 10000^(-(i mod hs)/hs)
            for i in range(0, dim, 2):
                ang = pos * (1.0 / (10000.0 ** ((i % hs) / hs)))
                cr, ci = math.cos(ang), math.sin(ang)
                vecs = (q, k) if i < kvd else (q,)
                for vec in vecs:
                    a, b = vec[i].item(), vec[i + 1].item()
                    vec[i], vec[i + 1] = a * cr - b * ci, a * ci + b * cr
            kc[l, pos], vc[l, pos] = k, v
            att_out = torch.zeros(dim)
            for h in range(H):
                kvh = h // (H // K)
                qh = q[h * hs:(h + 1) * hs]
                keys = kc[l, : pos + 1, kvh * hs:(kvh + 1) * hs]
                sc = torch.softmax(keys @ qh / math.sqrt(hs), dim=0)
                att_out[h * hs:(h + 1) * hs] = sc @ vc[l, : pos + 1, kvh * hs:(kvh + 1) * hs]
            x = x + w["wo"][l] @ att_out
            xb = norm(x, w["ffn_norm"][l])
            x = x + w["w2"][l] @ (torch.nn.functional.silu(w["w1"][l] @ xb) * (w["w3"][l] @ xb))
        logits = w["cls"] @ norm(x, w["final_norm"])
        token = int(torch.argmax(logits))
        out.append(token)
    return out


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "fixtures":
        make_fixtures(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "forward":
        d = sys.argv[2]
        cfg = json.load(open(os.path.join(d, "config.json")))
        W = read_folder(d)
        if len(sys.argv) >= 5:
            W = merge_peft(W, sys.argv[4])
        print(json.dumps(hf_forward(cfg, W, torch.tensor(json.loads(sys.argv[3]))).tolist()))
    elif len(sys.argv) >= 4 and sys.argv[1] == "llama2c":
        print(json.dumps(llama2c_greedy(sys.argv[2], int(sys.argv[3]))))
    else:
        sys.exit(__doc__)
