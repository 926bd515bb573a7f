// Does a policy use a prior attempt? On the held-out problems: one draft per problem under q (T 0.7, as
// stage 1 samples), then 4 refinements under q' = plain(q, draft) (T 0.7); the refinements' accuracy after a
// right draft and after a wrong one, beside 4 fresh single-pass answers to q for the same problems (what
// ignoring the draft would score), and how often a refinement copies its draft verbatim.
//   node --import tsx results/grpo-vs-igrpo-v2/refine-probe.ts POLICY_DIR [POLICY_DIR…]
import { loadPolicy } from '../../src/model/load.js';
import { getTemplate } from '../../src/rl/templates.js';
import { sample } from '../../src/sampling/index.js';
import { evalProblems, promptOf, TaskConfig } from '../../src/train/task.js';
import { makeScorer } from '../../src/verify/rewards.js';
import { selectBackend } from '../../src/backend/select.js';

async function probe(dir: string): Promise<void> {
  const policy = loadPolicy(dir);
  const problems = evalProblems(TaskConfig.parse({}));
  const score = makeScorer();
  const opts = { temperature: 0.7, topP: 1, maxNewTokens: 32 };
  const drafts = (await sample(policy, problems.map(promptOf), { ...opts, n: 1, seed: 7 })).map((g) => g[0].text);
  const prompts = problems.map((p, i) => getTemplate('plain')({ question: promptOf(p), draft: drafts[i] }));
  const refs = await sample(policy, prompts, { ...opts, n: 4, seed: 8 });
  const fresh = await sample(policy, problems.map(promptOf), { ...opts, n: 4, seed: 9 });
  const acc = { right: [0, 0], wrong: [0, 0] };
  const plain = { right: [0, 0], wrong: [0, 0] };
  let copies = 0, total = 0;
  problems.forEach((p, i) => {
    const draftRight = score(drafts[i], p).correct;
    const slot = draftRight ? acc.right : acc.wrong;
    const base = draftRight ? plain.right : plain.wrong;
    for (const c of fresh[i]) {
      base[0] += score(c.text, p).correct ? 1 : 0;
      base[1]++;
    }
    for (const c of refs[i]) {
      slot[0] += score(c.text, p).correct ? 1 : 0;
      slot[1]++;
      copies += c.text === drafts[i] ? 1 : 0;
      total++;
    }
  });
  const pct = (a: number[]) => `${((100 * a[0]) / Math.max(1, a[1])).toFixed(1)}% of ${a[1]}`;
  console.log(`${dir}: draft accuracy ${((100 * acc.right[1]) / total).toFixed(1)}%; refinement right after a right draft ${pct(acc.right)} ` +
    `(fresh answers to q on those problems: ${pct(plain.right)}), after a wrong draft (wrong→right) ${pct(acc.wrong)} ` +
    `(fresh: ${pct(plain.wrong)}); verbatim copies ${((100 * copies) / total).toFixed(1)}%`);
  policy.dispose();
}

async function main(): Promise<void> {
  await selectBackend('auto');
  for (const dir of process.argv.slice(2)) await probe(dir);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
