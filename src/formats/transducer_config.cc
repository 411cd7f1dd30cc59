#include "formats/transducer_config.h"

#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "formats/yaml_section.h"

namespace moeasr {

namespace {

// WeNet's constructor arguments without defaults are required here too.
int required_positive(YamlSection& s, const std::string& key, const std::string& source) {
  MOEASR_CHECK(s.has(key), MOEASR_ERR_FORMAT, source, ": ", s.where(key), " is missing");
  return s.get_positive(key, 1);
}

PredictorConfig parse_predictor(YamlSection& s, PredictorType type, const std::string& source) {
  PredictorConfig p;
  p.type = type;
  s.ignore({"embed_dropout", "dropout"});
  p.embed_size = required_positive(s, "embed_size", source);
  p.output_size = required_positive(s, "output_size", source);
  if (type == PredictorType::kRnn) {
    p.hidden_size = required_positive(s, "hidden_size", source);
    p.num_layers = required_positive(s, "num_layers", source);
    p.bias = s.get<bool>("bias", true);
    // WeNet's forward_step hands the RNN an (h, c) pair, which only an LSTM takes.
    s.get_choice("rnn_type", "lstm", {"lstm"});
    return p;
  }
  // EmbeddingPredictor and ConvPredictor assert embed_size == output_size.
  MOEASR_CHECK(p.embed_size == p.output_size, MOEASR_ERR_FORMAT, source, ": predictor_conf.embed_size ",
               p.embed_size, " != output_size ", p.output_size, " (the ",
               type == PredictorType::kConv ? "conv" : "embedding", " predictor keeps its width)");
  p.history_size = s.get<int>("history_size", 2);
  MOEASR_CHECK(p.history_size >= 0 && p.history_size <= 1024, MOEASR_ERR_FORMAT, source, ": ",
               s.where("history_size"), " must be in [0, 1024], got ", p.history_size);
  p.bias = s.get<bool>("bias", false);
  p.norm_eps = s.get_float("layer_norm_epsilon", 1e-5f);
  if (type == PredictorType::kEmbedding) {
    p.heads = required_positive(s, "n_head", source);
    p.activation = *s.get_activation("activation", "swish");
  } else {
    p.activation = *s.get_activation("activation", "relu");
  }
  return p;
}

JointConfig parse_joint(YamlSection& s, int encoder_size, int pred_size, const std::string& source) {
  JointConfig j;
  s.ignore({"dropout_rate", "hat_activation"});
  j.enc_size = required_positive(s, "enc_output_size", source);
  j.pred_size = required_positive(s, "pred_output_size", source);
  j.join_dim = required_positive(s, "join_dim", source);
  j.prejoin = s.get<bool>("prejoin_linear", true);
  j.postjoin = s.get<bool>("postjoin_linear", false);
  s.get_choice("joint_mode", "add", {"add"});
  s.require_bool("hat_joint", false, false);
  j.activation = *s.get_activation("activation", "tanh");
  MOEASR_CHECK(j.enc_size == encoder_size, MOEASR_ERR_FORMAT, source, ": joint_conf.enc_output_size ", j.enc_size,
               " != the encoder's output_size ", encoder_size);
  MOEASR_CHECK(j.pred_size == pred_size, MOEASR_ERR_FORMAT, source, ": joint_conf.pred_output_size ", j.pred_size,
               " != predictor_conf.output_size ", pred_size);
  // Without the pre-join projections the two outputs are added as they are.
  MOEASR_CHECK(j.prejoin || (j.enc_size == j.join_dim && j.pred_size == j.join_dim), MOEASR_ERR_FORMAT, source,
               ": without prejoin_linear, enc_output_size, pred_output_size and join_dim must be equal (got ",
               j.enc_size, ", ", j.pred_size, ", ", j.join_dim, ")");
  return j;
}

}  // namespace

TransducerConfig parse_transducer_config(const YAML::Node& root, int encoder_size, const std::string& source,
                                         std::vector<std::string>* warnings) {
  TransducerConfig t;
  t.present = true;
  YamlSection top(root, "", source);
  const std::string type = top.get_choice("predictor", "rnn", {"rnn", "embedding", "conv"});
  top.get_choice("joint", "transducer_joint", {"transducer_joint"});
  MOEASR_CHECK(root["predictor_conf"] && root["predictor_conf"].IsMap(), MOEASR_ERR_FORMAT, source,
               ": model: transducer needs a predictor_conf mapping");
  MOEASR_CHECK(root["joint_conf"] && root["joint_conf"].IsMap(), MOEASR_ERR_FORMAT, source,
               ": model: transducer needs a joint_conf mapping");
  YamlSection predictor(root["predictor_conf"], "predictor_conf", source);
  t.predictor = parse_predictor(predictor,
                                type == "embedding" ? PredictorType::kEmbedding
                                : type == "conv"    ? PredictorType::kConv
                                                    : PredictorType::kRnn,
                                source);
  predictor.collect_unknown(warnings);
  YamlSection joint(root["joint_conf"], "joint_conf", source);
  t.joint = parse_joint(joint, encoder_size, t.predictor.output_size, source);
  joint.collect_unknown(warnings);
  return t;
}

}  // namespace moeasr
