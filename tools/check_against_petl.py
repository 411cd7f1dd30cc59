#!/usr/bin/env python3
"""Prove that the PETL_AST fixtures' goldens (tools/moeasr_ref on the converted
directories) equal PETL_AST's own forward.

    python3 tools/check_against_petl.py --petl-src DIR [--data tests/data/petl]

DIR is a PETL_AST checkout (the directory that contains `src/MoA.py`), e.g.
    git clone https://github.com/umbertocappellazzo/PETL_AST DIR
Needs torch, torchaudio and transformers 4.x (PETL pins 4.28; its classes subclass
ASTLayer / ASTEncoder / ASTModel).

For every <case>.pt in the fixture directory the script builds PETL's model the way
main.py does for --method Soft-MoA / Dense-MoA (AST_SoftMoA / AST_MoA, with the base
AST built from its config instead of downloaded: from_pretrained's weights are
replaced by the state_dict anyway), loads the checkpoint with strict=True, and runs
PETL's forward on the input values of tests/data/audio/hello.wav that the goldens
were made from. It also runs Hugging Face's ASTFeatureExtractor (what PETL's datasets
call) and reports how far those input values, and PETL's logits on them, are from the
goldens. Exit status 1 if PETL's logits on the same input differ from a golden by more
than 1e-5.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import safetensors_io  # noqa: E402
from moeasr_ref import read_wav_int16  # noqa: E402
from moeasr_ref.ast import AUDIOSET_MEAN, AUDIOSET_STD, hf_fbank, input_values  # noqa: E402

TOLERANCE = 1e-5
WAV = TOOLS.parent / "tests" / "data" / "audio" / "hello.wav"


def option(args, name, default=None):
    return args[args.index(name) + 1] if name in args else default


def petl_model(petl, case_args, ast_config, state):
    """PETL's AST_SoftMoA / AST_MoA for the case, without from_pretrained."""
    from transformers import ASTConfig

    h = state["model.embeddings.cls_token"].shape[-1]
    config = ASTConfig(hidden_size=h, num_hidden_layers=1 + max(
        int(k.split(".")[3]) for k in state if k.startswith("model.encoder.layer.")),
        num_attention_heads=ast_config["num_attention_heads"],
        intermediate_size=state["model.encoder.layer.0.intermediate.dense.weight"].shape[0],
        layer_norm_eps=ast_config["layer_norm_eps"], patch_size=ast_config["patch_size"],
        frequency_stride=ast_config["frequency_stride"], time_stride=ast_config["time_stride"],
        num_mel_bins=ast_config["num_mel_bins"], max_length=int(option(case_args, "--max_len_AST")),
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    config._attn_implementation = "eager"  # what transformers 4.28 (PETL's pin) runs
    soft = option(case_args, "--method") == "Soft-MoA"
    kind = option(case_args, "--adapter_type_moa")
    location = option(case_args, "--location_moa", "MHSA")  # main.py's default; Houlsby ignores it
    n, rate = int(option(case_args, "--num_adapters")), int(option(case_args, "--reduction_rate_moa"))
    if soft:
        moa_config = petl.SoftMoA_config(n, int(option(case_args, "--num_slots")),
                                          option(case_args, "--normalize") == "true", rate, kind, location,
                                          "bottleneck")
        body, cls = petl.ASTModel_SoftMoA(config, moa_config), petl.AST_SoftMoA
    else:
        moa_config = petl.MoA_config(n, rate, kind, location, "bottleneck")
        body, cls = petl.ASTModel_MoA(config, moa_config), petl.AST_MoA
    # The attributes AST_SoftMoA.__init__ / AST_MoA.__init__ set, around PETL's own
    # modules, so PETL's forward() runs unchanged.
    model = cls.__new__(cls)
    nn.Module.__init__(model)
    model.moa_config, model.model, model.model_config = moa_config, body, body.config
    model.final_output = option(case_args, "--final_output")
    model.embeddings, model.encoder, model.layernorm = body.embeddings, body.encoder, body.layernorm
    model.classification_head = nn.Linear(h, state["classification_head.weight"].shape[0])
    model.load_state_dict(state, strict=True)
    model.eval()  # PETL's train() override returns None, so not `return model.eval()`
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--petl-src", required=True, type=Path, help="PETL_AST checkout (contains src/MoA.py)")
    parser.add_argument("--data", type=Path, default=TOOLS.parent / "tests" / "data" / "petl")
    args = parser.parse_args()
    if not (args.petl_src / "src" / "MoA.py").is_file():
        sys.exit(f"{args.petl_src} does not look like a PETL_AST checkout (no src/MoA.py)")
    torch.set_num_threads(1)
    sys.path.insert(0, str(args.petl_src))
    from src import MoA as petl  # PETL_AST's own module
    from transformers import ASTFeatureExtractor

    samples, rate = read_wav_int16(WAV)
    waveform = samples.astype(np.float64) / 32768.0
    ast_config = json.loads((args.data / "ast_config.json").read_text())
    failures = []
    print(f"{'case':28s} {'PETL vs golden':>15s} {'extractor values':>17s} {'PETL(extractor) vs golden':>26s}")
    for case in sorted(args.data.glob("*.json")):
        if case.name == "ast_config.json":
            continue
        name = case.stem
        case_args = json.loads(case.read_text())["converter_args"]
        state = torch.load(args.data / f"{name}.pt", weights_only=True)
        model = petl_model(petl, case_args, ast_config, state)
        golden = safetensors_io.load(args.data / f"{name}.golden.safetensors")[0]["logits"]
        max_len = int(option(case_args, "--max_len_AST"))
        # What moeasr_ref's features() gave the goldens: the float64 fbank, HF's order.
        values = input_values(hf_fbank(waveform, 16000, ast_config["num_mel_bins"], exact=True), max_len,
                              AUDIOSET_MEAN, AUDIOSET_STD)
        hf = ASTFeatureExtractor(max_length=max_len)(waveform.astype(np.float32), sampling_rate=16000,
                                                     return_tensors="pt")["input_values"]
        with torch.no_grad():
            logits = model(values.unsqueeze(0))[0].numpy()
            logits_hf = model(hf)[0].numpy()
        err = float(np.max(np.abs(logits.astype(np.float64) - golden)))
        err_values = float((hf[0] - values).abs().max())
        err_hf = float(np.max(np.abs(logits_hf.astype(np.float64) - golden)))
        print(f"{name:28s} {err:15.2e} {err_values:17.2e} {err_hf:26.2e}")
        if err > TOLERANCE:
            failures.append(f"{name}: PETL's logits differ from the golden by {err:.2e} (> {TOLERANCE})")
    if failures:
        print("\nFAILURES:\n  " + "\n  ".join(failures))
        return 1
    print("\nall checks passed: the goldens are PETL_AST's forward")
    return 0


if __name__ == "__main__":
    sys.exit(main())
