// config.json → the normalised Llama config: both config forms, each family's defaults, the llama3
// inverse frequencies against hand-computed values, and clear errors naming the file and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHFConfig, ropeInvFreq } from '../src/model/hf-config.js';

const BASE = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 128256,
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: true,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
};
const LLAMA3 = { factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' };

test('Llama-3.2-1B, old form (rope_theta + rope_scaling, torch_dtype) and new form (rope_parameters, dtype) agree', () => {
  const old = parseHFConfig({ ...BASE, rope_theta: 500000.0, rope_scaling: LLAMA3, torch_dtype: 'bfloat16' });
  const neu = parseHFConfig({ ...BASE, rope_parameters: { ...LLAMA3, rope_theta: 500000.0 }, dtype: 'bfloat16', layer_types: Array(16).fill('full_attention') });
  const strip = (c: ReturnType<typeof parseHFConfig>) => ({ ...c, raw: undefined });
  assert.deepEqual(strip(old), strip(neu));
  assert.equal(old.family, 'llama');
  assert.equal(old.headDim, 64);
  assert.equal(old.kvHeads, 8);
  assert.deepEqual(old.rope, { theta: 500000, type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
  assert.deepEqual(old.eosIds, [128001, 128008, 128009]);
  assert.equal(old.bosId, 128000);
  assert.equal(old.qkvBias, false);
  assert.equal(old.tieEmbeddings, true);
  assert.equal(old.dtype, 'bfloat16');
  // the oldest spelling of rope_type is `type`
  const oldest = parseHFConfig({ ...BASE, rope_theta: 500000.0, rope_scaling: { ...LLAMA3, rope_type: undefined, type: 'llama3' } });
  assert.equal(oldest.rope.type, 'llama3');
});

test('Qwen2 always has q/k/v biases (no o bias); Qwen3 has q/k norm and head_dim from config', () => {
  const q2 = parseHFConfig({ ...BASE, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', use_sliding_window: false, sliding_window: 32768, max_window_layers: 21 });
  assert.equal(q2.family, 'qwen2');
  assert.equal(q2.qkvBias, true);
  assert.equal(q2.oBias, false);
  assert.equal(q2.qkNorm, false);
  const q3 = parseHFConfig({ ...BASE, architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', hidden_size: 1024, num_attention_heads: 16, head_dim: 128, attention_bias: false, sliding_window: null });
  assert.equal(q3.headDim, 128);
  assert.equal(q3.qkNorm, true);
  assert.equal(q3.qkvBias, false);
  // Llama's attention_bias puts biases on all four projections
  const lb = parseHFConfig({ ...BASE, attention_bias: true });
  assert.equal(lb.qkvBias, true);
  assert.equal(lb.oBias, true);
  // no num_key_value_heads: multi-head attention
  const { num_key_value_heads: _, ...mha } = BASE;
  assert.equal(parseHFConfig(mha).kvHeads, 32);
});

test('llama3 inverse frequencies: high frequencies kept, low ones divided by factor, the band between interpolated', () => {
  const rope = { theta: 500000, type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 256 };
  const inv = ropeInvFreq(rope, 8);
  const base = [1, 500000 ** -0.25, 500000 ** -0.5, 500000 ** -0.75];
  // wavelengths 2π/inv: 6.28 (< 256/4: kept), 167 (between 64 and 256: smoothed), 4443 and 118,000 (> 256: /8)
  const wl = (2 * Math.PI) / base[1];
  const smooth = (256 / wl - 1) / (4 - 1);
  const expected = [base[0], (1 - smooth) * (base[1] / 8) + smooth * base[1], base[2] / 8, base[3] / 8];
  expected.forEach((e, i) => assert.ok(Math.abs(inv[i] - e) <= 1e-6 * e, `inv_freq[${i}] = ${inv[i]}, expected ${e}`));
  const plain = ropeInvFreq({ theta: 10000, type: 'default' }, 4);
  assert.ok(Math.abs(plain[1] - 0.01) < 1e-9);
});

test('unsupported architectures and options are errors naming the file and field', () => {
  const bad = (patch: Record<string, unknown>, re: RegExp) => assert.throws(() => parseHFConfig({ ...BASE, ...patch }, '/m/config.json'), re);
  bad({ architectures: ['MistralForCausalLM'], model_type: 'mistral' }, /\/m\/config\.json: architectures: 'MistralForCausalLM' is not supported/);
  bad({ rope_scaling: { rope_type: 'yarn', factor: 4 } }, /config\.json: rope_scaling\.rope_type: 'yarn' is not supported/);
  bad({ rope_parameters: { rope_type: 'dynamic', rope_theta: 1e4 } }, /rope_parameters\.rope_type: 'dynamic'/);
  bad({ rope_scaling: { rope_type: 'llama3', factor: 8 } }, /rope_scaling\.low_freq_factor: missing/);
  bad({ architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', use_sliding_window: true, sliding_window: 4096, max_window_layers: 4, max_position_embeddings: 32768 }, /use_sliding_window: sliding-window attention/);
  bad({ layer_types: [...Array(15).fill('full_attention'), 'sliding_attention'] }, /layer_types\[15\]: 'sliding_attention' is not supported/);
  bad({ num_key_value_heads: 5 }, /num_key_value_heads: 5 does not divide num_attention_heads 32/);
  bad({ hidden_act: 'gelu' }, /hidden_act: 'gelu' is not supported/);
  bad({ vocab_size: -3 }, /config\.json: vocab_size/);
  bad({ architectures: ['LlamaForCausalLM'], model_type: 'qwen2' }, /model_type: 'qwen2' does not match/);
  // a window that is declared but off, or not shorter than the context, is fine
  parseHFConfig({ ...BASE, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', use_sliding_window: false, sliding_window: 4096 });
});
