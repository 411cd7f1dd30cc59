#!/usr/bin/env python3
"""Regenerate the Mixture-of-Tokens fixtures in tests/data (leaves the others alone).

    /usr/bin/python3 tools/make_mot_fixtures.py

Deterministic (numpy-seeded weights, torch on one thread): a second run reproduces
the files byte for byte. Writes:
  models/mot_seq/        within-sequence MoT encoder (G 4, E 4, tau 1, no expert bias):
  golden/mot_seq/        streams; goldens in every mode, in make_fixtures.py's format
  models/mot_cross/      cross-example MoT encoder (G 2, E 4, tau 0.5, expert biases):
  golden/mot_cross/batch.{json,safetensors}
                         the offline batch: 5 utterances (sets {0,1}, {2,3}, {4,absent})
  models/mot_cross_moe/  mot_cross through tools/mot_to_moe.py (top-2 MoE)
  golden/mot_cross_moe/  its goldens in every mode (make_fixtures.py's format)
  golden/mot_layer/cases.{json,safetensors}
                         single MoT layers: G 1/4/8, both groupings, padding, tau -> 0,
                         and the MoT/top-1 MoE agreement of transition tuning
Seeds are bumped until no decision in the goldens is a near-tie (fixtures/margins.py).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import make_fixtures  # noqa: E402
import safetensors_io  # noqa: E402
from fixtures import golden, margins, vocab, weights  # noqa: E402
from fixtures.specs import ModelSpec  # noqa: E402
from moeasr_ref.batch import decode_batch  # noqa: E402
from moeasr_ref.ffn import MoEFFNLayer  # noqa: E402
from moeasr_ref.mot import MixtureOfTokens, expert_choice_one_hot, group_index  # noqa: E402

DATA = make_fixtures.DATA
say = make_fixtures.say
MAX_SEED_TRIES = 200


def _mot(grouping, group_size, temperature, bias):
    return {"mlp_type": "mot", "n_expert": 4, "mot_group_size": group_size,
            "mot_temperature": temperature, "mot_grouping": grouping, "mlp_bias": bias}


MOT_SEQ = ModelSpec(
    "mot_seq", seed=5000, units=vocab.BASE, reverse_weight=0.3, special_tokens=True,
    encoder={"output_size": 32, "attention_heads": 4, "linear_units": 32, "num_blocks": 2,
             "cnn_module_kernel": 5, "causal": True, "cnn_module_norm": "layer_norm",
             "use_dynamic_chunk": True, **_mot("within_sequence", 4, 1.0, False)},
    decoder={"attention_heads": 4, "linear_units": 64, "num_blocks": 1, "r_num_blocks": 1})
MOT_CROSS = ModelSpec(
    "mot_cross", seed=6000, units=vocab.BASE, reverse_weight=0.0, special_tokens=False,
    encoder={"output_size": 32, "attention_heads": 4, "linear_units": 32, "num_blocks": 2,
             "cnn_module_kernel": 7, "causal": False, "cnn_module_norm": "batch_norm",
             "use_dynamic_chunk": True, **_mot("cross_example", 2, 0.5, True)},
    decoder={"attention_heads": 4, "linear_units": 64, "num_blocks": 1, "r_num_blocks": 0})
CONVERTED = "mot_cross_moe"

# The offline batch: (name, source utterance, first fbank frame, end frame or None).
BATCH = [("b0", "hello", 0, None), ("b1", "numbers", 0, None), ("b2", "hello", 40, 250),
         ("b3", "numbers", 0, 150), ("b4", "hello", 100, None)]


def batch_feats(feats):
    return [feats[src][begin:end] for _, src, begin, end in BATCH]


def batch_problems(decoded, seed):
    problems = []
    for (name, *_), d in zip(BATCH, decoded):
        problems += [f"{name}: {p}" for p in margins.search_problems(d, golden.BEAM_SIZE, seed)]
    return problems


def mode_problems(model, feats, reverse_weight, seed):
    """Near-ties of every streaming/full decode, router gaps of any MoE layer."""
    with margins.RouterMargins(model) as router:
        decoded = {utt: golden.decode_all_modes(model, f, reverse_weight) for utt, f in feats.items()}
    problems = []
    if router.smallest <= margins.MIN_ROUTER_GAP:
        problems.append(f"router top-k gap {router.smallest:.2e}")
    for utt, modes in decoded.items():
        for mode, d in modes.items():
            problems += [f"{utt}/{mode}: {p}" for p in margins.search_problems(d, golden.BEAM_SIZE, seed)]
    return problems


def convert_to_moe(model_dir, out):
    subprocess.run([sys.executable, str(TOOLS / "mot_to_moe.py"), "--model", str(model_dir),
                    "--out", str(out), "--force"], check=True, stdout=subprocess.DEVNULL)


def build(spec, feats, mean, istd, check):
    """A random model for `spec` whose goldens have no near-ties (`check(model, seed)`
    lists the problems)."""
    for seed in range(spec.seed, spec.seed + MAX_SEED_TRIES):
        model = make_fixtures.moeasr_ref.ASRModel(spec.train_yaml())
        weights.randomize(model, seed, mean, istd)
        shift = weights.calibrate_blank(model, feats.values())
        problems = check(model, seed)
        if not problems:
            print(f"  seed {seed}, blank bias shift {shift:+.2f}")
            return model
        print(f"  seed {seed} rejected: {'; '.join(problems[:3])}")
    raise SystemExit(f"{spec.name}: no usable seed in {MAX_SEED_TRIES} tries")


def cross_problems(model, seed, feats):
    """The batch decode of the MoT model and every mode of its converted MoE."""
    problems = batch_problems(decode_batch(model, batch_feats(feats), golden.BEAM_SIZE,
                                           golden.CTC_WEIGHT, MOT_CROSS.reverse_weight), seed)
    if problems:
        return problems
    with tempfile.TemporaryDirectory() as tmp:
        mot_dir, moe_dir = Path(tmp) / "mot", Path(tmp) / "moe"
        torch_save_model_dir(MOT_CROSS, model, mot_dir)
        convert_to_moe(mot_dir, moe_dir)
        moe = make_fixtures.load_converted(moe_dir)
    return mode_problems(moe, feats, MOT_CROSS.reverse_weight, seed)


def torch_save_model_dir(spec, model, out):
    """A model directory without going through tests/data (for the seed search)."""
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.numpy() for k, v in model.state_dict().items()
               if not k.endswith((".pe", ".num_batches_tracked"))}
    safetensors_io.save(out / "model.safetensors", tensors, {"format": "pt"})
    import yaml
    (out / "train.yaml").write_text(yaml.safe_dump(spec.train_yaml(), sort_keys=True), encoding="utf-8")
    (out / "units.txt").write_text(vocab.units_text(spec.units), encoding="utf-8")


def write_batch_golden(spec, model, feats):
    out = DATA / "golden" / spec.name
    out.mkdir(parents=True, exist_ok=True)
    inputs = batch_feats(feats)
    decoded = decode_batch(model, inputs, golden.BEAM_SIZE, golden.CTC_WEIGHT, spec.reverse_weight)
    tensors, utterances = {}, []
    for i, ((name, src, begin, end), f, d) in enumerate(zip(BATCH, inputs, decoded)):
        tensors[f"fbank.{i}"] = f.numpy()
        tensors[f"encoder_out.{i}"] = d.encoder_out.numpy()
        tensors[f"ctc_logprobs.{i}"] = d.ctc_logprobs.numpy()
        nbest = [{"tokens": h.tokens, "ctc_score": h.score, "times": h.times, **scores}
                 for h, scores in zip(d.nbest, d.rescoring)]
        utterances.append({"name": name, "source": src,
                           "frames": [begin, end if end else int(feats[src].shape[0])],
                           "num_fbank_frames": int(f.shape[0]),
                           "num_encoder_frames": int(d.encoder_out.shape[0]),
                           "nbest": nbest, "best_index": d.best_index,
                           "best_tokens": d.nbest[d.best_index].tokens})
    record = {"model": spec.name, "group_size": spec.encoder["mot_group_size"],
              "beam_size": golden.BEAM_SIZE, "ctc_weight": golden.CTC_WEIGHT,
              "reverse_weight": spec.reverse_weight, "utterances": utterances}
    safetensors_io.save(out / "batch.safetensors", tensors)
    (out / "batch.json").write_text(golden.json_text(record), encoding="utf-8")
    say(out / "batch.safetensors")
    say(out / "batch.json")


# ---------------------------------------------------------------------------
# Single layers

LAYER_CASES = [
    # name, G, grouping, lengths, temperature, bias, activation
    ("g1_cross", 1, "cross_example", [5, 3], 1.0, False, "swish"),
    ("g4_cross_padded", 4, "cross_example", [7, 3, 5, 1, 6, 4], 0.7, False, "swish"),
    ("g8_cross_padded", 8, "cross_example", [4, 9, 2, 6, 5], 1.0, True, "relu"),
    ("g4_within", 4, "within_sequence", [9, 4, 1], 1.0, False, "swish"),
    ("g8_within", 8, "within_sequence", [17, 8, 3], 2.0, True, "swish"),
    ("g4_tau_small", 4, "cross_example", [6, 5, 6, 2, 4], 1e-4, False, "swish"),
]
LAYER_D, LAYER_HIDDEN, LAYER_EXPERTS = 16, 24, 4


def random_layer(rng, group_size, grouping, temperature, bias, activation, experts=LAYER_EXPERTS):
    layer = MixtureOfTokens(LAYER_D, LAYER_HIDDEN, activation, bias, experts, group_size,
                            temperature, grouping)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            fan_in = p.shape[-1] if p.dim() > 1 else LAYER_D
            scale = 0.05 if name.endswith("bias") else 1.0 / np.sqrt(fan_in)
            p.copy_(torch.from_numpy(rng.normal(0.0, scale, tuple(p.shape)).astype(np.float32)))
    return layer


def layer_tensors(prefix, layer, x_rows, y_rows):
    t = {f"{prefix}.x": x_rows, f"{prefix}.y": y_rows,
         f"{prefix}.controller": layer.controller.weight.detach().numpy()}
    for e, expert in enumerate(layer.experts):
        t[f"{prefix}.w1.{e}"] = expert.w_1.weight.detach().numpy()
        t[f"{prefix}.w2.{e}"] = expert.w_2.weight.detach().numpy()
        if expert.w_1.bias is not None:
            t[f"{prefix}.b1.{e}"] = expert.w_1.bias.detach().numpy()
            t[f"{prefix}.b2.{e}"] = expert.w_2.bias.detach().numpy()
    return t


def stacked(x, lengths):
    return torch.cat([x[b, :n] for b, n in enumerate(lengths)]).numpy()


def transition_case(rng):
    """G = E = 4, tokens built so that token g's best expert is pi(g) and expert pi(g)'s
    best token is g: the tau -> 0 MoT and the converted top-1 MoE must agree exactly."""
    layer = random_layer(rng, 4, "cross_example", 1e-3, False, "swish")
    with torch.no_grad():  # orthonormal controller rows: x_g = 3 c_pi(g) scores pi(g) highest
        q, _ = np.linalg.qr(rng.normal(0.0, 1.0, (LAYER_D, LAYER_EXPERTS)))
        layer.controller.weight.copy_(torch.from_numpy(q.T.astype(np.float32)))
    c = layer.controller.weight.detach()
    lengths = [3, 3, 3, 3]
    x = torch.zeros(4, 3, LAYER_D)
    for t in range(3):
        perm = rng.permutation(4)
        for b in range(4):
            noise = torch.from_numpy(rng.normal(0.0, 0.1, LAYER_D).astype(np.float32))
            x[b, t] = 3.0 * c[perm[b]] + noise
    moe = MoEFFNLayer(LAYER_D, LAYER_HIDDEN, "swish", False, LAYER_EXPERTS, 1)
    with torch.no_grad():
        moe.gate.weight.copy_(c / layer.temperature)  # tools/mot_to_moe.py's mapping
        for src, dst in zip(layer.experts, moe.experts):
            dst.load_state_dict(src.state_dict())
        y_mot = layer(x, lengths)
        y_moe = moe(x)
    gap = (y_mot - y_moe).abs().max().item()
    assert gap < 1e-5, f"transition case: MoT and top-1 MoE differ by {gap}"
    return layer, x, lengths, y_mot, y_moe


def smallest_group_gap(layer, x, lengths):
    """The smallest gap, over groups and experts, between the largest controller logit
    of a group and the next one."""
    index = group_index(lengths, x.size(1), layer.group_size, layer.grouping)
    flat = x.reshape(-1, x.size(-1))
    smallest = float("inf")
    for group in index.tolist():
        members = [i for i in group if i >= 0]
        if len(members) > 1:
            top2 = torch.topk(layer.controller(flat[members]), 2, dim=0).values
            smallest = min(smallest, (top2[0] - top2[1]).min().item())
    return smallest


def write_layer_cases():
    rng = np.random.default_rng(7000)
    tensors, cases = {}, []
    with torch.no_grad():
        for name, group_size, grouping, lengths, temperature, bias, activation in LAYER_CASES:
            layer = random_layer(rng, group_size, grouping, temperature, bias, activation)
            while True:  # at small tau, no near-tie may blur the one-hot limit
                x = torch.from_numpy(rng.normal(0.0, 1.0, (len(lengths), max(lengths), LAYER_D)).astype(np.float32))
                if temperature >= 1e-3 or smallest_group_gap(layer, x, lengths) > 100 * temperature:
                    break
            y = layer(x, lengths)
            if temperature < 1e-3:  # the limit, computed another way, must agree
                gap = (y - expert_choice_one_hot(layer, x, lengths)).abs().max().item()
                assert gap < 1e-5, f"{name}: tau -> 0 is not one-hot routing ({gap})"
            tensors.update(layer_tensors(name, layer, stacked(x, lengths), stacked(y, lengths)))
            cases.append({"name": name, "group_size": group_size, "grouping": grouping, "lengths": lengths,
                          "temperature": temperature, "bias": bias, "activation": activation})
        layer, x, lengths, y_mot, y_moe = transition_case(rng)
        tensors.update(layer_tensors("transition", layer, stacked(x, lengths), stacked(y_mot, lengths)))
        tensors["transition.y_moe_top1"] = stacked(y_moe, lengths)
        cases.append({"name": "transition", "group_size": 4, "grouping": "cross_example", "lengths": lengths,
                      "temperature": layer.temperature, "bias": False, "activation": "swish"})
    out = DATA / "golden" / "mot_layer"
    out.mkdir(parents=True, exist_ok=True)
    safetensors_io.save(out / "cases.safetensors", tensors)
    record = {"d": LAYER_D, "hidden": LAYER_HIDDEN, "experts": LAYER_EXPERTS, "cases": cases}
    (out / "cases.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    say(out / "cases.safetensors")
    say(out / "cases.json")


def main():
    torch.set_num_threads(1)  # one thread: identical float results on every run
    feats = make_fixtures.load_utterances(DATA / "audio")
    mean, istd = make_fixtures.cmvn_stats(feats)

    print("mot_layer:")
    write_layer_cases()

    print(f"{MOT_SEQ.name}:")
    model = build(MOT_SEQ, feats, mean, istd,
                  lambda m, seed: mode_problems(m, feats, MOT_SEQ.reverse_weight, seed))
    model_dir = make_fixtures.write_model(MOT_SEQ, model)
    make_fixtures.write_goldens(MOT_SEQ, make_fixtures.load_converted(model_dir), feats)

    print(f"{MOT_CROSS.name}:")
    model = build(MOT_CROSS, feats, mean, istd, lambda m, seed: cross_problems(m, seed, feats))
    model_dir = make_fixtures.write_model(MOT_CROSS, model)
    write_batch_golden(MOT_CROSS, make_fixtures.load_converted(model_dir), feats)

    print(f"{CONVERTED}:")
    moe_dir = DATA / "models" / CONVERTED
    convert_to_moe(model_dir, moe_dir)
    for name in ("train.yaml", "units.txt", "model.safetensors"):
        say(moe_dir / name)
    converted = ModelSpec(CONVERTED, 0, MOT_CROSS.units, {}, {}, MOT_CROSS.reverse_weight, False)
    make_fixtures.write_goldens(converted, make_fixtures.load_converted(moe_dir), feats)


if __name__ == "__main__":
    main()
