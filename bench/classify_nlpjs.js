// bench/classify_nlpjs.js: NLP.js (npm node-nlp, pinned in package.json)
// against autoassist's classifier on the same corpus split: trained on
// tests/corpus/train.jsonl, scored on tests/corpus/heldout.jsonl.
//
// NLP.js classifies one label per utterance; the corpus gives each message
// a *set* of intents (28 % have two or more) and an escalation flag. Two
// ways of mapping that, both measured:
//   set        one model whose label is the intent set joined with "+"
//              ("contract_start_date+payment_method", "none" for the empty
//              set), plus a second model for escalation (labels
//              "escalate" / "no_escalate"). 2 model calls per message.
//   per-intent one binary model per intent ("yes" / "no") and the same
//              escalation model. 5 model calls per message. Can predict
//              sets it never saw in training.
// Each model is an NlpManager with the corpus' five languages (nb is
// NLP.js' "no"), trained with the language of each message; at test time
// NLP.js is told the labelled language (an advantage autoassist does not
// get: it detects the language itself). A result of "None" (below NLP.js'
// threshold) counts as the empty set / no escalation.
//
// Scores: exact intent-set accuracy, escalation recall (and false
// escalations), and messages/s on one core: every model call a message
// needs, in a loop over the held-out messages for --seconds, after one
// warm-up pass. Both NlpManager.process (the documented entry point, with
// sentiment and NER) and the NLU alone (nlp.nluManager.process) are timed.
//
// With --autoassist BIN the same scores are computed for
// `BIN classify --jsonl` on the same file by the same code here; its speed
// comes from bench_classify (run.sh).
//
//   node classify_nlpjs.js --train train.jsonl --heldout heldout.jsonl
//        [--autoassist path/to/autoassist] [--seconds 5] [--json out.json]
'use strict';
const fs = require('fs');
const { spawnSync } = require('child_process');
const { NlpManager } = require('node-nlp');

const args = { seconds: 5 };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '');
  args[k] = process.argv[++i];
}
if (!args.train || !args.heldout) {
  console.error('usage: node classify_nlpjs.js --train F --heldout F [--autoassist BIN] [--seconds S] [--json OUT]');
  process.exit(2);
}
const seconds = Number(args.seconds);

const readJsonl = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
const train = readJsonl(args.train);
const heldout = readJsonl(args.heldout);
const INTENTS = ['contract_start_date', 'address_update', 'pulse_relocation', 'payment_method'];
const LANG = { en: 'en', nb: 'no', sv: 'sv', de: 'de', nl: 'nl' };
const LANGS = Object.values(LANG);

function newManager() {
  return new NlpManager({ languages: LANGS, nlu: { log: false }, autoSave: false, autoLoad: false, modelFileName: '/dev/null' });
}

async function trainModel(labelOf) {
  const m = newManager();
  for (const ex of train) m.addDocument(LANG[ex.lang], ex.text, labelOf(ex));
  await m.train();
  return m;
}

const setKey = (arr) => arr.slice().sort().join('+');

function score(preds) {
  let exact = 0, escTp = 0, escFn = 0, escFp = 0, neg = 0;
  heldout.forEach((ex, i) => {
    const p = preds[i];
    if (setKey(p.intents) === setKey(ex.intents)) exact++;
    if (ex.escalate) (p.escalate ? escTp++ : escFn++);
    else { neg++; if (p.escalate) escFp++; }
  });
  return {
    n: heldout.length,
    exact: exact / heldout.length,
    exact_n: exact,
    esc_recall: escTp / (escTp + escFn),
    esc_tp: escTp,
    esc_pos: escTp + escFn,
    false_esc: escFp / neg,
    false_esc_n: escFp,
    neg,
  };
}

// One prediction with every model the strategy needs. `call` is either the
// full NlpManager.process or the NLU alone.
async function predict(strategy, models, call, ex) {
  const lang = LANG[ex.lang];
  const esc = await call(models.esc, lang, ex.text);
  let intents = [];
  if (strategy === 'set') {
    const r = await call(models.set, lang, ex.text);
    if (r && r !== 'None' && r !== 'none') intents = r.split('+');
  } else {
    for (const id of INTENTS) {
      if ((await call(models[id], lang, ex.text)) === 'yes') intents.push(id);
    }
  }
  return { intents, escalate: esc === 'escalate' };
}

const viaManager = async (m, lang, text) => (await m.process(lang, text)).intent;
const viaNlu = async (m, lang, text) => {
  const r = await m.nlp.nluManager.process(lang, text);
  return r && r.intent;
};

// Messages per second, measured as bench/classify.c measures autoassist:
// the run is cut in slices of SLICE_S (its SLICE_NS; each at least one pass
// over the held-out messages) and the best slice's rate is kept.
const SLICE_S = 0.25;
async function rate(strategy, models, call) {
  for (const ex of heldout) await predict(strategy, models, call, ex); // warm-up
  let best = 0;
  const t0 = process.hrtime.bigint();
  let t = t0;
  while (Number(t - t0) / 1e9 < seconds) {
    const s0 = t;
    let slice = 0;
    do {
      for (const ex of heldout) await predict(strategy, models, call, ex);
      slice += heldout.length;
      t = process.hrtime.bigint();
    } while (Number(t - s0) / 1e9 < SLICE_S);
    best = Math.max(best, slice / (Number(t - s0) / 1e9));
  }
  return best;
}

function autoassistPreds(bin) {
  const input = heldout.map((ex) => JSON.stringify({ text: ex.text })).join('\n') + '\n';
  const r = spawnSync(bin, ['classify', '--jsonl'], { input, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`autoassist classify --jsonl exited ${r.status}: ${r.stderr}`);
  const out = r.stdout.toString().split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  if (out.length !== heldout.length) throw new Error('autoassist: one output line per input expected');
  return out.map((o) => ({ intents: (o.intents || []).map((x) => x.id), escalate: !!o.escalate }));
}

(async () => {
  const result = { node: process.version, node_nlp: require('node-nlp/package.json').version,
    train: train.length, heldout: heldout.length, strategies: {} };

  let t = Date.now();
  const esc = await trainModel((ex) => (ex.escalate ? 'escalate' : 'no_escalate'));
  const escTrain = (Date.now() - t) / 1000;

  const strategies = {};
  t = Date.now();
  strategies.set = { esc, set: await trainModel((ex) => (ex.intents.length ? setKey(ex.intents) : 'none')) };
  const setTrain = (Date.now() - t) / 1000 + escTrain;
  t = Date.now();
  strategies['per-intent'] = { esc };
  for (const id of INTENTS) strategies['per-intent'][id] = await trainModel((ex) => (ex.intents.includes(id) ? 'yes' : 'no'));
  const perTrain = (Date.now() - t) / 1000 + escTrain;

  for (const [name, models] of Object.entries(strategies)) {
    const preds = [];
    for (const ex of heldout) preds.push(await predict(name, models, viaManager, ex));
    const s = score(preds);
    // The NLU alone must decide the same; check it on the way.
    const predsNlu = [];
    for (const ex of heldout) predsNlu.push(await predict(name, models, viaNlu, ex));
    const sNlu = score(predsNlu);
    s.train_s = name === 'set' ? setTrain : perTrain;
    s.models = Object.keys(models).length;
    s.rate_manager = await rate(name, models, viaManager);
    s.rate_nlu = await rate(name, models, viaNlu);
    s.exact_nlu = sNlu.exact;
    s.esc_recall_nlu = sNlu.esc_recall;
    result.strategies[name] = s;
    console.log(`NLP.js ${name}: ${s.models} models trained in ${s.train_s.toFixed(1)} s; ` +
      `exact ${(100 * s.exact).toFixed(1)}% (${s.exact_n}/${s.n}), escalation recall ` +
      `${(100 * s.esc_recall).toFixed(1)}% (${s.esc_tp}/${s.esc_pos}), false escalation ` +
      `${(100 * s.false_esc).toFixed(1)}% (${s.false_esc_n}/${s.neg}); ` +
      `${s.rate_manager.toFixed(0)} msgs/s via NlpManager.process, ${s.rate_nlu.toFixed(0)} via the NLU alone` +
      (sNlu.exact !== s.exact ? ` (NLU alone: exact ${(100 * sNlu.exact).toFixed(1)}%)` : ''));
  }
  if (args.autoassist) {
    const s = score(autoassistPreds(args.autoassist));
    result.autoassist = s;
    console.log(`autoassist: exact ${(100 * s.exact).toFixed(1)}% (${s.exact_n}/${s.n}), escalation recall ` +
      `${(100 * s.esc_recall).toFixed(1)}% (${s.esc_tp}/${s.esc_pos}), false escalation ` +
      `${(100 * s.false_esc).toFixed(1)}% (${s.false_esc_n}/${s.neg})`);
  }
  if (args.json) fs.writeFileSync(args.json, JSON.stringify(result, null, 1) + '\n');
  console.log('RESULT ' + JSON.stringify(result));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
