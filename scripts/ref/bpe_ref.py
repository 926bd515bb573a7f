#!/usr/bin/env python3
"""An independent byte-level BPE over a tokenizer.json, for checking the TypeScript tokenizer: written
from the tokenizer.json format (the Rust `tokenizers` pipeline: added-token split → normalizer →
pre-tokenizer → BPE model → post-processor) and GPT-2's byte-to-unicode table, with the `regex` module
for the Split patterns. No transformers/tokenizers import. Handles what Qwen2/3 and Llama 3 use: NFC or no
normalizer, Split(Isolated) + ByteLevel(use_regex=false) or ByteLevel(use_regex=true), BPE with
ignore_merges, ByteLevel / TemplateProcessing / Sequence post-processors; anything else is an error.

stdin: {"tokenizer": path, "texts": [...], "decode": [[ids], ...]}; stdout: {"plain": [[ids]],
"special": [[ids]] (add_special_tokens=True), "decoded": [str] (skip_special_tokens=False, no clean-up),
"decoded_skip": [str]}."""
import json
import sys
import unicodedata

import regex

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


class Ref:
    def __init__(self, path):
        t = json.load(open(path, encoding="utf-8"))
        m = t["model"]
        if m["type"] != "BPE":
            raise SystemExit(f"unsupported model {m['type']}")
        self.vocab = dict(m["vocab"])
        self.ignore_merges = m.get("ignore_merges", False)
        merges = [tuple(x.split(" ", 1)) if isinstance(x, str) else tuple(x) for x in m["merges"]]
        self.ranks = {p: i for i, p in enumerate(merges)}
        self.added = {a["content"]: a for a in t["added_tokens"]}
        for a in t["added_tokens"]:
            self.vocab[a["content"]] = a["id"]
        self.id_to_token = {i: s for s, i in self.vocab.items()}
        self.special_ids = {a["id"] for a in t["added_tokens"] if a["special"]}
        norm = t["normalizer"]
        if norm is None:
            self.normalize = lambda s: s
        elif norm["type"] == "NFC":
            self.normalize = lambda s: unicodedata.normalize("NFC", s)
        else:
            raise SystemExit(f"unsupported normalizer {norm}")
        self.split_patterns = []
        pre = t["pre_tokenizer"]
        steps = pre["pretokenizers"] if pre["type"] == "Sequence" else [pre]
        for s in steps:
            if s["type"] == "Split":
                assert s["behavior"] == "Isolated" and not s["invert"], s
                self.split_patterns.append(regex.compile(s["pattern"]["Regex"]))
            elif s["type"] == "ByteLevel":
                assert not s["add_prefix_space"], s
                if s.get("use_regex", True):
                    self.split_patterns.append(regex.compile(GPT2_PATTERN))
            else:
                raise SystemExit(f"unsupported pre-tokenizer {s}")
        self.post = t["post_processor"]
        # longest first: the Rust added vocabulary matches leftmost-longest
        self.added_by_len = sorted(self.added, key=len, reverse=True)

    def split_added(self, text):
        """[(piece, is_added)], added tokens found left to right, longest at each position."""
        out, buf, i = [], "", 0
        while i < len(text):
            hit = next((a for a in self.added_by_len if text.startswith(a, i)), None)
            if hit is None:
                buf += text[i]
                i += 1
                continue
            if buf:
                out.append((buf, False))
                buf = ""
            out.append((hit, True))
            i += len(hit)
        if buf:
            out.append((buf, False))
        return out

    def pre_tokenize(self, text):
        pieces = [text]
        for pat in self.split_patterns:
            nxt = []
            for p in pieces:
                pos = 0
                for mt in pat.finditer(p):
                    if mt.start() > pos:
                        nxt.append(p[pos : mt.start()])
                    if mt.end() > mt.start():
                        nxt.append(mt.group())
                    pos = mt.end()
                if pos < len(p):
                    nxt.append(p[pos:])
            pieces = nxt
        return ["".join(BYTE_TO_CHAR[b] for b in p.encode("utf-8")) for p in pieces]

    def bpe(self, word):
        if self.ignore_merges and word in self.vocab:
            return [word]
        parts = list(word)
        while len(parts) > 1:
            best, best_rank = None, None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            parts[best : best + 2] = [parts[best] + parts[best + 1]]
        return parts

    def encode(self, text, add_special_tokens):
        ids = []
        for piece, is_added in self.split_added(text):
            if is_added:
                ids.append(self.vocab[piece])
                continue
            for w in self.pre_tokenize(self.normalize(piece)):
                ids.extend(self.vocab[t] for t in self.bpe(w))
        return self.post_process(ids) if add_special_tokens else ids

    def post_process(self, ids):
        procs = self.post["processors"] if self.post and self.post["type"] == "Sequence" else [self.post] if self.post else []
        for p in procs:
            if p["type"] == "ByteLevel":
                continue
            if p["type"] != "TemplateProcessing":
                raise SystemExit(f"unsupported post-processor {p}")
            out = []
            for item in p["single"]:
                if "Sequence" in item:
                    out.extend(ids)
                else:
                    out.extend(p["special_tokens"][item["SpecialToken"]["id"]]["ids"])
            ids = out
        return ids

    def decode(self, ids, skip_special):
        toks = [self.id_to_token[i] for i in ids if i in self.id_to_token and not (skip_special and i in self.special_ids)]
        data = bytearray()
        for t in toks:
            if t in self.added:
                data.extend(t.encode("utf-8"))
            else:
                data.extend(CHAR_TO_BYTE[c] for c in t)
        return data.decode("utf-8", errors="replace")


def main():
    req = json.load(sys.stdin)
    ref = Ref(req["tokenizer"])
    texts = req.get("texts", [])
    out = {
        "plain": [ref.encode(s, False) for s in texts],
        "special": [ref.encode(s, True) for s in texts],
        "decoded": [ref.decode(ids, False) for ids in req.get("decode", [])],
        "decoded_skip": [ref.decode(ids, True) for ids in req.get("decode", [])],
    }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
