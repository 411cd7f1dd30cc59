"""The RNN-T half of WeNet's Transducer model: predictor and joiner, built from
train.yaml's predictor / predictor_conf / joint / joint_conf.

Attribute names follow WeNet's (predictor.embed, predictor.rnn.weight_ih_l0, ...,
joint.enc_ffn, ...) so state_dict() keys are identical. Inference only, one
hypothesis per call: every predictor takes one token and its state and returns
its output (P,) and the next state.
"""

import torch
from torch import nn

from .config import ConfigError

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "swish": nn.functional.silu,
               "gelu": nn.functional.gelu, "selu": torch.selu, "hardtanh": nn.functional.hardtanh}

PREDICTOR_KEYS = {
    "rnn": {"embed_size", "output_size", "hidden_size", "num_layers", "bias", "rnn_type"},
    "embedding": {"embed_size", "output_size", "n_head", "history_size", "activation", "bias",
                  "layer_norm_epsilon"},
    "conv": {"embed_size", "output_size", "history_size", "activation", "bias", "layer_norm_epsilon"},
}
PREDICTOR_TRAINING_ONLY = {"embed_dropout", "dropout"}
JOINT_KEYS = {"enc_output_size", "pred_output_size", "join_dim", "prejoin_linear", "postjoin_linear",
              "joint_mode", "activation", "hat_joint", "dropout_rate", "hat_activation"}


def _checked(conf, known, where):
    for key in conf:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}")
    return conf


class _LstmWeights(nn.Module):
    """torch.nn.LSTM's parameters under its names (gates i, f, g, o stacked)."""

    def __init__(self, input_size, hidden, layers, bias):
        super().__init__()
        self.layers, self.bias = layers, bias
        for k in range(layers):
            inputs = input_size if k == 0 else hidden
            setattr(self, f"weight_ih_l{k}", nn.Parameter(torch.zeros(4 * hidden, inputs)))
            setattr(self, f"weight_hh_l{k}", nn.Parameter(torch.zeros(4 * hidden, hidden)))
            if bias:
                setattr(self, f"bias_ih_l{k}", nn.Parameter(torch.zeros(4 * hidden)))
                setattr(self, f"bias_hh_l{k}", nn.Parameter(torch.zeros(4 * hidden)))

    def step(self, x, state):
        """One time step through every layer: x (E,), state [(h, c)] per layer."""
        out = []
        for k, (h, c) in enumerate(state):
            gates = getattr(self, f"weight_ih_l{k}") @ x + getattr(self, f"weight_hh_l{k}") @ h
            if self.bias:
                gates = gates + getattr(self, f"bias_ih_l{k}") + getattr(self, f"bias_hh_l{k}")
            i, f, g, o = gates.chunk(4)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            out.append((h, c))
            x = h
        return x, out


class RnnPredictor(nn.Module):
    """embed -> stacked LSTM -> projection; the state is each layer's (h, c)."""

    def __init__(self, vocab, conf):
        super().__init__()
        if conf.get("rnn_type", "lstm") != "lstm":
            raise ConfigError(f"predictor_conf.rnn_type = {conf['rnn_type']!r} is not supported "
                              "(supported: lstm)")
        self.hidden, self.layers = conf["hidden_size"], conf["num_layers"]
        self.embed = nn.Embedding(vocab, conf["embed_size"])
        self.rnn = _LstmWeights(conf["embed_size"], self.hidden, self.layers, conf.get("bias", True))
        self.projection = nn.Linear(self.hidden, conf["output_size"])

    def init_state(self):
        return [(torch.zeros(self.hidden), torch.zeros(self.hidden)) for _ in range(self.layers)]

    def step(self, token, state):
        h, state = self.rnn.step(self.embed.weight[token], state)
        return self.projection(h), state


class _WindowPredictor(nn.Module):
    """The embeddings of the last `context` tokens (zeros before the first) are the state."""

    def __init__(self, vocab, conf):
        super().__init__()
        if conf["embed_size"] != conf["output_size"]:
            raise ConfigError("predictor_conf.embed_size must equal output_size")
        self.size = conf["embed_size"]
        self.context = conf.get("history_size", 2) + 1
        self.embed = nn.Embedding(vocab, self.size)
        self.norm = nn.LayerNorm(self.size, eps=conf.get("layer_norm_epsilon", 1e-5))

    def init_state(self):
        return torch.zeros(self.context - 1, self.size)

    def step(self, token, history):
        window = torch.cat([history, self.embed.weight[token].unsqueeze(0)])  # (context, E)
        out = self.activation(self.norm(self.mix(window)))
        return out, window[1:]


class EmbeddingPredictor(_WindowPredictor):
    """Each head weighs the window's embeddings by their dot product with its own
    per-position vectors; the weighted sums are averaged over heads and positions,
    then Linear, LayerNorm, activation (WeNet's EmbeddingPredictor)."""

    def __init__(self, vocab, conf):
        super().__init__(vocab, conf)
        self.heads = conf["n_head"]
        self.activation = ACTIVATIONS[conf.get("activation", "swish")]
        self.pos_embed = nn.Linear(self.size * self.context, self.heads, bias=conf.get("bias", False))
        self.ffn = nn.Linear(self.size, self.size)

    def mix(self, window):
        # pos_embed.weight row h, read as (E, context): head h's vector for position j is column j.
        pos = self.pos_embed.weight.view(self.heads, self.size, self.context).transpose(1, 2)
        weight = torch.einsum("hje,je->hj", pos, window)  # (heads, context)
        mixed = (weight @ window).sum(0) / (self.heads * self.context)
        return self.ffn(mixed)


class ConvPredictor(_WindowPredictor):
    """A depthwise convolution over the window, LayerNorm, activation."""

    def __init__(self, vocab, conf):
        super().__init__(vocab, conf)
        self.activation = ACTIVATIONS[conf.get("activation", "relu")]
        self.conv = nn.Conv1d(self.size, self.size, self.context, groups=self.size,
                              bias=conf.get("bias", False))

    def mix(self, window):
        out = (self.conv.weight[:, 0, :] * window.t()).sum(1)
        return out if self.conv.bias is None else out + self.conv.bias


PREDICTORS = {"rnn": RnnPredictor, "embedding": EmbeddingPredictor, "conv": ConvPredictor}


class Joint(nn.Module):
    """act(enc_ffn(enc) + pred_ffn(pred)) [-> post_ffn before act] -> ffn_out: logits."""

    def __init__(self, vocab, conf, encoder_size, pred_size):
        super().__init__()
        if conf.get("joint_mode", "add") != "add" or conf.get("hat_joint", False):
            raise ConfigError("joint_conf: only joint_mode add without hat_joint is supported")
        if conf["enc_output_size"] != encoder_size or conf["pred_output_size"] != pred_size:
            raise ConfigError("joint_conf: enc/pred_output_size differ from the encoder/predictor")
        d = conf["join_dim"]
        self.activation = ACTIVATIONS[conf.get("activation", "tanh")]
        self.prejoin = conf.get("prejoin_linear", True)
        if self.prejoin:
            self.enc_ffn = nn.Linear(encoder_size, d)
            self.pred_ffn = nn.Linear(pred_size, d)
        elif not encoder_size == pred_size == d:
            raise ConfigError("joint_conf: without prejoin_linear the three sizes must be equal")
        self.post_ffn = nn.Linear(d, d) if conf.get("postjoin_linear", False) else None
        self.ffn_out = nn.Linear(d, vocab)

    def project_encoder(self, enc):
        return self.enc_ffn(enc) if self.prejoin else enc

    def project_predictor(self, pred):
        return self.pred_ffn(pred) if self.prejoin else pred

    def forward(self, enc_projected, pred_projected):
        x = enc_projected + pred_projected
        if self.post_ffn is not None:
            x = self.post_ffn(x)
        return self.ffn_out(self.activation(x))


def make_transducer(config, vocab, encoder_size):
    """(predictor, joint) for a `model: transducer` config."""
    kind = config.get("predictor", "rnn")
    if kind not in PREDICTORS:
        raise ConfigError(f"predictor {kind!r} is not supported (supported: {', '.join(PREDICTORS)})")
    if config.get("joint", "transducer_joint") != "transducer_joint":
        raise ConfigError(f"joint {config['joint']!r} is not supported (supported: transducer_joint)")
    conf = {k: v for k, v in (config.get("predictor_conf") or {}).items()
            if k not in PREDICTOR_TRAINING_ONLY}
    predictor = PREDICTORS[kind](vocab, _checked(conf, PREDICTOR_KEYS[kind], "predictor_conf"))
    joint_conf = _checked(config.get("joint_conf") or {}, JOINT_KEYS, "joint_conf")
    return predictor, Joint(vocab, joint_conf, encoder_size, conf["output_size"])
