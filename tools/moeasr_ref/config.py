"""Read the parts of a WeNet train.yaml that define a U2++ (Conformer or Transformer) model.

WeNet passes encoder_conf / decoder_conf straight into the module constructors as
keyword arguments, so an unknown key is an error there too. We mirror that: every key
is either used, known to be training-only, or rejected with a message naming it. Values
that would select a variant this reference does not implement are rejected as well,
so a model is never silently computed the wrong way.
"""

import yaml

# WeNet's constructor defaults (ConformerEncoder, TransformerDecoder/BiTransformerDecoder).
ENCODER_DEFAULTS = {
    "output_size": 256,
    "attention_heads": 4,
    "linear_units": 2048,
    "num_blocks": 6,
    "input_layer": "conv2d",
    "pos_enc_layer_type": "rel_pos",
    "selfattention_layer_type": "rel_selfattn",
    "normalize_before": True,
    "static_chunk_size": 0,
    "use_dynamic_chunk": False,
    "macaron_style": True,
    "activation_type": "swish",
    "use_cnn_module": True,
    "cnn_module_kernel": 15,
    "causal": False,
    "cnn_module_norm": "batch_norm",
    "query_bias": True,
    "key_bias": True,
    "value_bias": True,
    "conv_bias": True,
    "layer_norm_type": "layer_norm",
    "norm_eps": 1e-5,
    "n_kv_head": None,
    "head_dim": None,
    "mlp_type": "position_wise_feed_forward",
    "mlp_bias": True,
    "n_expert": 8,
    "n_expert_activated": 2,
    # Mixture of Tokens (mlp_type: mot; moeasr's own keys, WeNet has no MoT)
    "mot_group_size": None,
    "mot_temperature": 1.0,
    "mot_grouping": "cross_example",
    "conv_norm_eps": 1e-5,
    "conv_inner_factor": 2,
    "final_norm": True,
    # moeasr extensions (not WeNet keys): Soft MoE FFN and mixtures of adapters,
    # see soft_moe.py and docs/model_format.md.
    "slots_per_expert": 1,
    "soft_moe_normalize": False,
    "adapter_type": None,
    "adapter_placement": ["feed_forward"],
    "adapter_dim": 64,
    "adapter_n_expert": 4,
    "adapter_slots_per_expert": 1,
    "adapter_normalize": False,
}

# TransformerEncoder's keywords: it takes none of the conformer-only keys (WeNet
# fails on them), and its defaults differ (abs_pos, selfattn, relu).
TRANSFORMER_KEYS = (
    "output_size", "attention_heads", "linear_units", "num_blocks", "input_layer",
    "pos_enc_layer_type", "normalize_before", "static_chunk_size", "use_dynamic_chunk",
    "query_bias", "key_bias", "value_bias", "activation_type", "layer_norm_type", "norm_eps",
    "n_kv_head", "head_dim", "selfattention_layer_type", "mlp_type", "mlp_bias", "n_expert",
    "n_expert_activated", "mot_group_size", "mot_temperature", "mot_grouping", "slots_per_expert",
    "soft_moe_normalize")
TRANSFORMER_DEFAULTS = dict({k: ENCODER_DEFAULTS[k] for k in TRANSFORMER_KEYS},
                            pos_enc_layer_type="abs_pos", selfattention_layer_type="selfattn",
                            activation_type="relu")
# What the shared encoder code reads of a conformer-only key, for a transformer.
TRANSFORMER_FIXED = {"macaron_style": False, "use_cnn_module": False, "final_norm": True,
                     "adapter_type": None}

# BranchformerEncoder's keywords (no FFN, no normalize_before) and its defaults.
BRANCHFORMER_DEFAULTS = {
    "output_size": 256, "use_attn": True, "attention_heads": 4,
    "selfattention_layer_type": "rel_selfattn", "pos_enc_layer_type": "rel_pos",
    "use_cgmlp": True, "cgmlp_linear_units": 2048, "cgmlp_conv_kernel": 31,
    "use_linear_after_conv": False, "gate_activation": "identity", "merge_method": "concat",
    "cgmlp_weight": 0.5, "num_blocks": 12, "input_layer": "conv2d", "static_chunk_size": 0,
    "use_dynamic_chunk": False, "causal": False, "query_bias": True, "key_bias": True,
    "value_bias": True, "layer_norm_type": "layer_norm", "norm_eps": 1e-5, "n_kv_head": None,
    "head_dim": None,
}
# EBranchformerEncoder's keywords and defaults (its FFNs take mlp_type, like WeNet's).
E_BRANCHFORMER_DEFAULTS = {
    "output_size": 256, "attention_heads": 4, "linear_units": 2048,
    "selfattention_layer_type": "rel_selfattn", "pos_enc_layer_type": "rel_pos",
    "activation_type": "swish", "cgmlp_linear_units": 2048, "cgmlp_conv_kernel": 31,
    "use_linear_after_conv": False, "gate_activation": "identity", "num_blocks": 12,
    "input_layer": "conv2d", "static_chunk_size": 0, "use_dynamic_chunk": False,
    "causal": False, "merge_conv_kernel": 3, "use_ffn": True, "macaron_style": True,
    "query_bias": True, "key_bias": True, "value_bias": True, "conv_bias": True,
    "layer_norm_type": "layer_norm", "norm_eps": 1e-5, "n_kv_head": None, "head_dim": None,
    "mlp_type": "position_wise_feed_forward", "mlp_bias": True, "n_expert": 8,
    "n_expert_activated": 2,
}
# SqueezeformerEncoder's keywords and defaults. It has no mlp_type (dense FFNs only).
SQUEEZEFORMER_DEFAULTS = {
    "encoder_dim": 256, "output_size": 256, "attention_heads": 4, "num_blocks": 12,
    "reduce_idx": 5, "recover_idx": 11, "feed_forward_expansion_factor": 4, "dw_stride": False,
    "pos_enc_layer_type": "rel_pos", "time_reduction_layer_type": "conv1d", "do_rel_shift": True,
    "cnn_module_kernel": 31, "cnn_norm_type": "batch_norm", "causal": False,
    "adaptive_scale": True, "activation_type": "swish", "normalize_before": False,
    "use_dynamic_chunk": False, "concat_after": False, "static_chunk_size": 0,
}
# Its training-only keywords besides TRAINING_ONLY's (init_weights only initializes).
SQUEEZEFORMER_TRAINING_ONLY = {"input_dropout_rate", "feed_forward_dropout_rate", "dropout",
                               "init_weights"}
SQUEEZEFORMER_SUPPORTED = {
    "pos_enc_layer_type": {"rel_pos"},
    "time_reduction_layer_type": {"conv1d", "stream"},
    "cnn_norm_type": {"batch_norm", "layer_norm"},
    "dw_stride": {False},
    "normalize_before": {False},
    "concat_after": {False},
    "static_chunk_size": {0},
    "activation_type": {"swish", "relu", "gelu", "tanh"},
}
# What the shared encoder code reads of a key these encoders do not take.
BRANCHFORMER_FIXED = {"use_cnn_module": False, "final_norm": True, "adapter_type": None,
                      "normalize_before": True}
GATE_ACTIVATIONS = {"identity", "swish", "relu", "gelu", "tanh", "selu", "hardtanh"}

DECODER_DEFAULTS = {
    "attention_heads": 4,
    "linear_units": 2048,
    "num_blocks": 6,
    "r_num_blocks": 0,
    "input_layer": "embed",
    "use_output_layer": True,
    "normalize_before": True,
    "src_attention": True,
    "query_bias": True,
    "key_bias": True,
    "value_bias": True,
    "activation_type": "relu",
    "tie_word_embedding": False,
    "layer_norm_type": "layer_norm",
    "norm_eps": 1e-5,
    "n_kv_head": None,
    "head_dim": None,
    "mlp_type": "position_wise_feed_forward",
    "mlp_bias": True,
    "n_expert": 8,
    "n_expert_activated": 2,
    # only TransformerDecoder accepts these; BiTransformerDecoder always uses True
    "src_query_bias": True,
    "src_key_bias": True,
    "src_value_bias": True,
}

# Keys that only matter for training (dropout, checkpointing, chunk sampling, sdpa).
TRAINING_ONLY = {
    "dropout_rate",
    "positional_dropout_rate",
    "attention_dropout_rate",
    "self_attention_dropout_rate",
    "src_attention_dropout_rate",
    "gradient_checkpointing",
    "use_sdpa",
    "use_dynamic_left_chunk",
    "positionwise_conv_kernel_size",
    "stochastic_depth_rate",
    "attn_branch_drop_rate",
}

# Variants the runtime (and so this reference) implements; anything else is rejected.
SUPPORTED = {
    "input_layer": {"conv2d", "conv2d6", "conv2d8", "linear"},
    "pos_enc_layer_type": {"rel_pos", "abs_pos", "no_pos"},
    "selfattention_layer_type": {"rel_selfattn", "selfattn"},
    "normalize_before": {True},
    "layer_norm_type": {"layer_norm"},
    "n_kv_head": {None},
    "head_dim": {None},
    "mlp_type": {"position_wise_feed_forward", "moe", "mot", "soft_moe"},
    "mot_grouping": {"cross_example", "within_sequence"},
    "cnn_module_norm": {"layer_norm", "batch_norm"},
    "activation_type": {"swish", "relu", "gelu", "tanh"},
    "use_output_layer": {True},
    "src_attention": {True},
    "tie_word_embedding": {False},
}
ENCODER_SUPPORTED = dict(SUPPORTED, adapter_type={None, "soft_moa", "dense_moa"})
# TransformerEncoder asserts selfattn (or rope_abs_selfattn, not implemented here).
TRANSFORMER_SUPPORTED = dict(SUPPORTED, selfattention_layer_type={"selfattn"})
BRANCHFORMER_SUPPORTED = dict(SUPPORTED, use_attn={True}, use_cgmlp={True},
                              merge_method={"concat", "fixed_ave"},
                              gate_activation=GATE_ACTIVATIONS)
E_BRANCHFORMER_SUPPORTED = dict(SUPPORTED, mlp_type={"position_wise_feed_forward", "moe"},
                                gate_activation=GATE_ACTIVATIONS)
# EfficientConformerEncoder's keywords and defaults (efficient_conf's keys may also
# sit in encoder_conf itself: WeNet passes both sections as keywords).
EFFICIENT_CONFORMER_DEFAULTS = {
    "output_size": 256, "attention_heads": 4, "linear_units": 2048, "num_blocks": 6,
    "input_layer": "conv2d", "pos_enc_layer_type": "rel_pos", "normalize_before": True,
    "static_chunk_size": 0, "use_dynamic_chunk": False, "macaron_style": True,
    "activation_type": "swish", "use_cnn_module": True, "cnn_module_kernel": 15,
    "causal": False, "cnn_module_norm": "batch_norm", "stride_layer_idx": 3, "stride": 2,
    "group_layer_idx": [0, 1, 2, 3], "group_size": 3, "stride_kernel": True,
}
EFFICIENT_KEYS = ("stride_layer_idx", "stride", "group_layer_idx", "group_size", "stride_kernel")
# WeNet builds its layers with fixed options (dense FFNs, biases, LayerNorm eps 1e-5);
# static chunks would mask strided and grouped frames, which this reference does not do.
EFFICIENT_CONFORMER_SUPPORTED = dict(
    SUPPORTED, input_layer={"conv2d2", "conv2d", "conv2d6", "conv2d8"},
    pos_enc_layer_type={"rel_pos"}, use_cnn_module={True}, static_chunk_size={0},
    stride_kernel={True, False})
EFFICIENT_CONFORMER_FIXED = {"selfattention_layer_type": "rel_selfattn", "final_norm": True,
                             "adapter_type": None, "mlp_type": "position_wise_feed_forward"}

ENCODERS = ("conformer", "transformer", "branchformer", "e_branchformer", "squeezeformer",
            "efficientConformer")
# Mixture of Tokens and Soft MoE are encoder layers only (in the decoder they
# would mix hypotheses; the decoder has no utterance/chunk grouping).
DECODER_SUPPORTED = dict(SUPPORTED, input_layer={"embed"},
                         mlp_type={"position_wise_feed_forward", "moe"})
ADAPTER_PLACES = ("self_attn", "feed_forward", "feed_forward_macaron")


class ConfigError(ValueError):
    """train.yaml describes a model this reference cannot build."""


def _resolve(conf, defaults, supported, where):
    options = dict(defaults)
    for key, value in (conf or {}).items():
        if key in TRAINING_ONLY:
            continue
        if key not in defaults:
            raise ConfigError(f"{where}: unknown key {key!r}")
        options[key] = value
    for key, allowed in supported.items():
        if key in options and options[key] not in allowed:
            names = ", ".join(sorted(str(a) for a in allowed))
            raise ConfigError(f"{where}.{key} = {options[key]!r} is not supported (supported: {names})")
    return options


def encoder_options(config):
    """encoder_conf resolved against the encoder class's defaults; opts["encoder"] names the class."""
    kind = config.get("encoder", "conformer")
    if kind not in ENCODERS:
        raise ConfigError(f"encoder {kind!r} is not supported (supported: {', '.join(ENCODERS)})")
    conf = config.get("encoder_conf") or {}
    if kind == "squeezeformer":
        return squeezeformer_options(conf)
    if kind == "transformer":
        opts = _resolve(conf, TRANSFORMER_DEFAULTS, TRANSFORMER_SUPPORTED, "encoder_conf")
        opts.update({k: v for k, v in ENCODER_DEFAULTS.items() if k not in opts}, **TRANSFORMER_FIXED)
    elif kind in ("branchformer", "e_branchformer"):
        branch = kind == "branchformer"
        opts = _resolve(conf, BRANCHFORMER_DEFAULTS if branch else E_BRANCHFORMER_DEFAULTS,
                        BRANCHFORMER_SUPPORTED if branch else E_BRANCHFORMER_SUPPORTED,
                        "encoder_conf")
        opts.update({k: v for k, v in ENCODER_DEFAULTS.items() if k not in opts},
                     **BRANCHFORMER_FIXED)
        if branch and opts["merge_method"] == "fixed_ave" and not (
                isinstance(opts["cgmlp_weight"], float) and 0.0 < opts["cgmlp_weight"] < 1.0):
            raise ConfigError("encoder_conf.cgmlp_weight must be one number in (0, 1) "
                              "(supported: both branches)")
        for key in ("cgmlp_conv_kernel", "merge_conv_kernel"):
            if not branch or key == "cgmlp_conv_kernel":
                if not opts["causal"] and opts[key] % 2 == 0:
                    raise ConfigError(f"encoder_conf.{key} must be odd when not causal")
    elif kind == "efficientConformer":
        opts = _efficient_options(conf)
    else:
        opts = _resolve(conf, ENCODER_DEFAULTS, ENCODER_SUPPORTED, "encoder_conf")
    opts["encoder"] = kind
    if opts["mlp_type"] == "mot":
        if "mlp_bias" not in conf:
            opts["mlp_bias"] = False  # MoT experts have no bias unless asked
        if not isinstance(opts["mot_group_size"], int) or opts["mot_group_size"] < 1:
            raise ConfigError("encoder_conf.mot_group_size (a positive integer) is required for mlp_type: mot")
        if not opts["mot_temperature"] > 0:
            raise ConfigError("encoder_conf.mot_temperature must be positive")
    if opts["output_size"] % opts["attention_heads"]:
        raise ConfigError("encoder_conf.output_size must be a multiple of attention_heads")
    if not opts["causal"] and opts["cnn_module_kernel"] % 2 == 0:
        raise ConfigError("a non-causal conv module needs an odd cnn_module_kernel")
    for key in ("slots_per_expert", "adapter_dim", "adapter_n_expert", "adapter_slots_per_expert"):
        if not isinstance(opts[key], int) or opts[key] < 1:
            raise ConfigError(f"encoder_conf.{key} must be a positive integer")
    places = opts["adapter_placement"]
    if (not isinstance(places, list) or not places or len(set(places)) != len(places)
            or any(p not in ADAPTER_PLACES for p in places)):
        raise ConfigError(f"encoder_conf.adapter_placement must be a list of distinct {ADAPTER_PLACES}")
    if "feed_forward_macaron" in places and not opts["macaron_style"]:
        raise ConfigError("encoder_conf.adapter_placement: feed_forward_macaron needs macaron_style")
    return opts


def _index_list(value, key, num_blocks, increasing):
    """An int or a list of layer indices in [0, num_blocks) (strictly increasing if asked)."""
    values = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if (not isinstance(values, (list, tuple))
            or any(not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < num_blocks
                   for v in values)
            or len(set(values)) != len(values)
            or (increasing and list(values) != sorted(values))):
        order = "increasing " if increasing else ""
        raise ConfigError(f"efficient_conf.{key} must be an int or a list of distinct "
                          f"{order}layer indices in [0, num_blocks)")
    return list(values)


def _efficient_options(conf):
    """encoder_conf of encoder: efficientConformer, efficient_conf merged in."""
    conf = dict(conf)
    efficient = conf.pop("efficient_conf", None) or {}
    for key in efficient:
        if key in conf:
            raise ConfigError(f"encoder_conf: {key!r} given twice (encoder_conf and efficient_conf)")
        if key not in EFFICIENT_KEYS:
            raise ConfigError(f"encoder_conf.efficient_conf: unknown key {key!r} "
                              f"(supported: {', '.join(EFFICIENT_KEYS)})")
    conf.update(efficient)
    opts = _resolve(conf, EFFICIENT_CONFORMER_DEFAULTS, EFFICIENT_CONFORMER_SUPPORTED,
                    "encoder_conf")
    opts.update({k: v for k, v in ENCODER_DEFAULTS.items() if k not in opts},
                **EFFICIENT_CONFORMER_FIXED)
    n = opts["num_blocks"]
    opts["stride_layer_idx"] = _index_list(opts["stride_layer_idx"], "stride_layer_idx", n, True)
    opts["group_layer_idx"] = _index_list(opts["group_layer_idx"], "group_layer_idx", n, False)
    strides = opts["stride"]
    strides = [strides] if isinstance(strides, int) and not isinstance(strides, bool) else strides
    if not isinstance(strides, (list, tuple)) or len(strides) != len(opts["stride_layer_idx"]):
        raise ConfigError("efficient_conf.stride needs one entry per stride_layer_idx")
    if any(s != 2 or isinstance(s, bool) for s in strides):
        raise ConfigError("efficient_conf.stride entries must be 2 (supported: 2)")
    opts["stride"] = list(strides)
    g = opts["group_size"]
    if not isinstance(g, int) or isinstance(g, bool) or g < 1:
        raise ConfigError("efficient_conf.group_size must be a positive integer")
    # Each strided layer's convolution kernel: the previous one, divided by the
    # stride with stride_kernel (WeNet: kernel // stride).
    kernels = [opts["cnn_module_kernel"]]
    for s in strides:
        kernels.append(kernels[-1] // s if opts["stride_kernel"] else kernels[-1])
    if not opts["causal"] and any(k % 2 == 0 for k in kernels):
        raise ConfigError(f"encoder_conf: a non-causal conv module needs odd kernels "
                          f"(cnn_module_kernel and stride_kernel give {kernels})")
    if kernels[-1] < 1 or (opts["causal"] and kernels[-1] < 2):
        raise ConfigError(f"encoder_conf: the strided layers' kernels {kernels} are too small")
    opts["cnn_module_kernels"] = kernels
    return opts


def squeezeformer_options(conf):
    """encoder_conf of encoder: squeezeformer. One time reduction and one recovery
    (WeNet also takes lists of them, or none): the recipes' shape."""
    conf = {k: v for k, v in conf.items() if k not in SQUEEZEFORMER_TRAINING_ONLY}
    opts = _resolve(conf, SQUEEZEFORMER_DEFAULTS, SQUEEZEFORMER_SUPPORTED, "encoder_conf")
    for key in ("reduce_idx", "recover_idx"):
        value = opts[key]
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"encoder_conf.{key} = {opts[key]!r} is not supported "
                              "(supported: one block index)")
        opts[key] = value
    if not 0 < opts["reduce_idx"] < opts["recover_idx"] < opts["num_blocks"]:
        raise ConfigError("encoder_conf: need 0 < reduce_idx < recover_idx < num_blocks "
                          "(supported: one time reduction, recovered before the last block)")
    if opts["encoder_dim"] % opts["attention_heads"]:
        raise ConfigError("encoder_conf.encoder_dim must be a multiple of attention_heads")
    if not opts["causal"] and opts["cnn_module_kernel"] % 2 == 0:
        raise ConfigError("a non-causal conv module needs an odd cnn_module_kernel")
    for key in ("adaptive_scale", "do_rel_shift", "causal", "use_dynamic_chunk"):
        if not isinstance(opts[key], bool):
            raise ConfigError(f"encoder_conf.{key} must be true or false")
    opts["encoder"] = "squeezeformer"
    return opts


def decoder_options(config):
    kind = config.get("decoder", "bitransformer")
    if kind not in ("bitransformer", "transformer"):
        raise ConfigError(f"decoder {kind!r} is not supported")
    conf = dict(config.get("decoder_conf") or {})
    if kind == "bitransformer":
        bad = {"src_query_bias", "src_key_bias", "src_value_bias"} & conf.keys()
        if bad:
            raise ConfigError(f"decoder_conf: {sorted(bad)} are not accepted by a bitransformer")
    elif "r_num_blocks" in conf:
        raise ConfigError("decoder_conf.r_num_blocks needs decoder: bitransformer")
    return kind, _resolve(conf, DECODER_DEFAULTS, DECODER_SUPPORTED, "decoder_conf")


def special_ids(config):
    """(sos, eos) as WeNet's ASRModel picks them."""
    vocab_size = config["output_dim"]
    special = (config.get("tokenizer_conf") or {}).get("special_tokens")
    if special is None:
        return vocab_size - 1, vocab_size - 1
    return special.get("<sos>", vocab_size - 1), special.get("<eos>", vocab_size - 1)


def load_config(path):
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: not a YAML mapping")
    for key in ("input_dim", "output_dim"):
        if key not in config:
            raise ConfigError(f"{path}: missing {key}")
    return config
