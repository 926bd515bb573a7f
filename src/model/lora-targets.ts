// The HF module names LoRA can target (PEFT's target_modules), apart from ./lora.ts so the config schema
// (and the browser bundles that validate configs) need none of the adapter's file reading.
export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];
