// Child process of hf-memory.test.ts: loads the model folder argv[2] and prints its fp32 size and the
// peak resident memory the load added (VmHWM after − VmRSS before), in bytes, as one JSON line.
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { loadPretrained } from '../src/model/hf.js';

const kb = (field: string) => 1024 * Number(new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
await tf.setBackend('cpu');
tf.tidy(() => tf.add(tf.ones([4]), 1)); // backend warm-up outside the measurement
const before = kb('VmRSS');
const m = loadPretrained(process.argv[2]);
console.log(JSON.stringify({ fp32: 4 * m.numParameters(), added: kb('VmHWM') - before }));
