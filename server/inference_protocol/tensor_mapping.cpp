#include "server/inference_protocol/tensor_mapping.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

namespace roiserve::server::inference_protocol {
namespace {

using InputTensor = inference::ModelInferRequest::InferInputTensor;

constexpr const char* kImage = "IMAGE";
constexpr const char* kRaw = "RAW";
constexpr const char* kBoxes = "BOXES";
constexpr const char* kScores = "SCORES";
constexpr const char* kLabels = "LABELS";
constexpr const char* kClassNames = "CLASS_NAMES";
constexpr const char* kMasks = "MASKS";
constexpr const char* kImageIndex = "IMAGE_INDEX";

// Parameters of Triton's own that clients send on their own accord; they
// change nothing here.
const std::set<std::string> kIgnoredParameters = {
    "binary_data_output", "priority", "timeout", "sequence_id", "sequence_start",
    "sequence_end", "headers"};

std::string shape_text(const google::protobuf::RepeatedField<int64_t>& shape) {
  std::string text = "[";
  for (int i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string element_count_text(size_t expected, size_t got, const std::string& input) {
  return "input " + input + " has " + std::to_string(got) + " elements where its shape says " +
         std::to_string(expected);
}

// The encoded images of IMAGE, as views of the request's bytes.
std::vector<std::string_view> image_elements(const InputTensor& input, const std::string* raw) {
  if (input.datatype() != "BYTES") {
    throw std::invalid_argument("input IMAGE must be BYTES (got " + input.datatype() + ")");
  }
  const auto& shape = input.shape();
  if (!((shape.size() == 1 || (shape.size() == 2 && shape[1] == 1)) && shape[0] >= 1)) {
    throw std::invalid_argument("input IMAGE must have shape [N] or [N, 1] with N >= 1 (got " +
                                shape_text(shape) + ")");
  }
  const auto count = static_cast<size_t>(shape[0]);
  std::vector<std::string_view> images;
  if (raw == nullptr) {
    for (const std::string& element : input.contents().bytes_contents()) images.push_back(element);
  } else {
    // Each element: a 4-byte little-endian length, then that many bytes.
    std::string_view rest = *raw;
    while (!rest.empty()) {
      uint32_t length = 0;
      if (rest.size() < 4) throw std::invalid_argument("input IMAGE's raw contents are cut short");
      std::memcpy(&length, rest.data(), 4);
      rest.remove_prefix(4);
      if (length > rest.size()) throw std::invalid_argument("input IMAGE's raw contents are cut short");
      images.push_back(rest.substr(0, length));
      rest.remove_prefix(length);
    }
  }
  if (images.size() != count) throw std::invalid_argument(element_count_text(count, images.size(), kImage));
  return images;
}

// RAW as one HWC byte image per batch entry.
std::vector<v1::Image> raw_images(const InputTensor& input, const std::string* raw) {
  if (input.datatype() != "UINT8") {
    throw std::invalid_argument("input RAW must be UINT8 (got " + input.datatype() + ")");
  }
  const auto& shape = input.shape();
  const int rank = shape.size();
  if (!((rank == 3 || rank == 4) && shape[rank - 1] == 3 &&
        std::all_of(shape.begin(), shape.end(), [](int64_t dim) { return dim >= 1; }))) {
    throw std::invalid_argument("input RAW must have shape [H, W, 3] or [N, H, W, 3] (got " +
                                shape_text(shape) + ")");
  }
  const int64_t count = rank == 4 ? shape[0] : 1;
  const int64_t height = shape[rank - 3];
  const int64_t width = shape[rank - 2];
  // Dimensions beyond 2^31 make no image; checked so that the product cannot overflow.
  if (std::max({count, height, width}) > (int64_t{1} << 31)) {
    throw std::invalid_argument("input RAW's shape " + shape_text(shape) + " is too large");
  }
  const uint64_t image_bytes = static_cast<uint64_t>(height) * static_cast<uint64_t>(width) * 3;
  const uint64_t expected = image_bytes * static_cast<uint64_t>(count);
  std::string pixels;
  if (raw == nullptr) {
    const auto& values = input.contents().uint_contents();
    if (static_cast<uint64_t>(values.size()) != expected) {
      throw std::invalid_argument(element_count_text(expected, values.size(), kRaw));
    }
    pixels.resize(values.size());
    for (int i = 0; i < values.size(); ++i) {
      if (values[i] > 255) throw std::invalid_argument("input RAW has a value above 255");
      pixels[i] = static_cast<char>(values[i]);
    }
    raw = &pixels;
  } else if (raw->size() != expected) {
    throw std::invalid_argument("input RAW has " + std::to_string(raw->size()) +
                                " bytes where its shape says " + std::to_string(expected));
  }
  std::vector<v1::Image> images(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    v1::RawImage* image = images[i].mutable_raw();
    image->set_height(static_cast<uint32_t>(height));
    image->set_width(static_cast<uint32_t>(width));
    image->set_channels(3);
    image->set_layout(v1::RawImage::HWC);
    image->set_data_type(v1::RawImage::UINT8);
    image->set_data(raw->substr(i * image_bytes, image_bytes));
  }
  return images;
}

double number_parameter(const std::string& name, const inference::InferParameter& value) {
  switch (value.parameter_choice_case()) {
    case inference::InferParameter::kDoubleParam:
      return value.double_param();
    case inference::InferParameter::kInt64Param:
      return static_cast<double>(value.int64_param());
    case inference::InferParameter::kUint64Param:
      return static_cast<double>(value.uint64_param());
    default:
      throw std::invalid_argument("parameter " + name + " must be a number");
  }
}

int64_t integer_parameter(const std::string& name, const inference::InferParameter& value) {
  switch (value.parameter_choice_case()) {
    case inference::InferParameter::kInt64Param:
      return value.int64_param();
    case inference::InferParameter::kUint64Param:
      return static_cast<int64_t>(std::min<uint64_t>(value.uint64_param(), INT64_MAX));
    default:
      throw std::invalid_argument("parameter " + name + " must be an integer");
  }
}

const std::string& string_parameter(const std::string& name, const inference::InferParameter& value) {
  if (value.parameter_choice_case() != inference::InferParameter::kStringParam) {
    throw std::invalid_argument("parameter " + name + " must be a string");
  }
  return value.string_param();
}

v1::MaskFormat mask_format(const std::string& name) {
  static const std::map<std::string, v1::MaskFormat> kFormats = {
      {"coco_rle", v1::MASK_FORMAT_COCO_RLE}, {"png", v1::MASK_FORMAT_PNG},
      {"none", v1::MASK_FORMAT_NONE}};
  const auto found = kFormats.find(name);
  if (found == kFormats.end()) {
    throw std::invalid_argument("parameter mask_format must be coco_rle, png or none (got '" +
                                name + "')");
  }
  return found->second;
}

// `masks_wanted`: MASKS is among the requested outputs (true), not (false),
// or no outputs are listed (nullopt: the model's default).
v1::DetectOptions detect_options(const inference::ModelInferRequest& request,
                                 std::optional<bool> masks_wanted) {
  v1::DetectOptions options;
  options.set_model(request.model_name());
  for (const auto& [name, value] : request.parameters()) {
    if (name == "head") {
      options.set_head(string_parameter(name, value));
    } else if (name == "mask_pooler") {
      options.set_mask_pooler(string_parameter(name, value));
    } else if (name == "mask_format") {
      options.set_mask_format(mask_format(string_parameter(name, value)));
    } else if (name == "score_threshold") {
      options.set_score_threshold(static_cast<float>(number_parameter(name, value)));
    } else if (name == "nms_iou") {
      options.set_nms_iou(static_cast<float>(number_parameter(name, value)));
    } else if (name == "max_detections") {
      const int64_t requested = integer_parameter(name, value);
      // The limit's check (request_options) names the accepted range.
      options.set_max_detections(static_cast<uint32_t>(std::clamp<int64_t>(requested, 0, UINT32_MAX)));
    } else if (!kIgnoredParameters.count(name)) {
      throw std::invalid_argument("unknown parameter '" + name +
                                  "' (accepted: head, mask_pooler, mask_format, score_threshold, "
                                  "nms_iou, max_detections)");
    }
  }
  if (options.mask_format() == v1::MASK_FORMAT_UNSPECIFIED && masks_wanted) {
    options.set_mask_format(*masks_wanted ? v1::MASK_FORMAT_COCO_RLE : v1::MASK_FORMAT_NONE);
  }
  return options;
}

// The requested outputs, checked; empty: all.
std::vector<std::string> requested_outputs(const inference::ModelInferRequest& request) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& output : request.outputs()) {
    const auto& known = output_tensors();
    if (std::none_of(known.begin(), known.end(),
                     [&](const TensorSpec& spec) { return output.name() == spec.name; })) {
      throw std::invalid_argument("unknown output '" + output.name() +
                                  "' (the model has BOXES, SCORES, LABELS, CLASS_NAMES, MASKS, "
                                  "IMAGE_INDEX)");
    }
    if (!seen.insert(output.name()).second) {
      throw std::invalid_argument("output " + output.name() + " is requested twice");
    }
    names.push_back(output.name());
  }
  return names;
}

void append_bytes_element(std::string& raw, const std::string& element) {
  const auto length = static_cast<uint32_t>(element.size());
  raw.append(reinterpret_cast<const char*>(&length), 4);
  raw += element;
}

template <typename T>
void append_value(std::string& raw, T value) {
  raw.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

void add_stage_latencies(const v1::DetectResponse& answer, const std::string& suffix,
                         inference::ModelInferResponse* response) {
  auto& parameters = *response->mutable_parameters();
  for (const v1::StageLatency& stage : answer.latency()) {
    parameters[stage.stage() + suffix].set_double_param(stage.milliseconds());
  }
  parameters["batch_size" + suffix].set_int64_param(answer.batch_size());
}

}  // namespace

const std::vector<TensorSpec>& input_tensors() {
  static const std::vector<TensorSpec> kInputs = {{kImage, "BYTES", {-1}},
                                                  {kRaw, "UINT8", {-1, -1, -1, 3}}};
  return kInputs;
}

const std::vector<TensorSpec>& output_tensors() {
  static const std::vector<TensorSpec> kOutputs = {
      {kBoxes, "FP32", {-1, 4}},      {kScores, "FP32", {-1}}, {kLabels, "INT64", {-1}},
      {kClassNames, "BYTES", {-1}},   {kMasks, "BYTES", {-1}}, {kImageIndex, "INT64", {-1}}};
  return kOutputs;
}

DetectionPlan plan_detections(const inference::ModelInferRequest& request) {
  if (request.inputs_size() != 1) {
    throw std::invalid_argument("the request must have one input, IMAGE (BYTES) or RAW (UINT8); it has " +
                                std::to_string(request.inputs_size()));
  }
  const InputTensor& input = request.inputs(0);
  const std::string* raw = nullptr;
  if (request.raw_input_contents_size() > 0) {
    if (request.raw_input_contents_size() != 1) {
      throw std::invalid_argument("raw_input_contents has " +
                                  std::to_string(request.raw_input_contents_size()) +
                                  " entries for 1 input");
    }
    raw = &request.raw_input_contents(0);
  }
  DetectionPlan plan;
  plan.outputs = requested_outputs(request);
  std::optional<bool> masks_wanted;
  if (!plan.outputs.empty()) {
    masks_wanted = std::count(plan.outputs.begin(), plan.outputs.end(), kMasks) > 0;
  }
  const v1::DetectOptions options = detect_options(request, masks_wanted);
  if (masks_wanted.value_or(false) && options.mask_format() == v1::MASK_FORMAT_NONE) {
    throw std::invalid_argument("output MASKS is requested with mask_format none");
  }
  std::vector<v1::Image> images;
  if (input.name() == kImage) {
    for (std::string_view encoded : image_elements(input, raw)) {
      images.emplace_back().set_encoded(std::string(encoded));
    }
  } else if (input.name() == kRaw) {
    images = raw_images(input, raw);
  } else {
    throw std::invalid_argument("unknown input '" + input.name() + "' (the model has IMAGE and RAW)");
  }
  plan.images.resize(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    *plan.images[i].mutable_image() = std::move(images[i]);
    *plan.images[i].mutable_options() = options;
    plan.images[i].set_request_id(request.id());
  }
  return plan;
}

void fill_infer_response(const inference::ModelInferRequest& request, const DetectionPlan& plan,
                         const std::vector<v1::DetectResponse>& answers,
                         inference::ModelInferResponse* response) {
  response->set_model_name(answers.empty() ? request.model_name() : answers.front().model());
  response->set_model_version("1");
  response->set_id(request.id());
  // A response names a mask pooler when masks ran.
  const bool masks = !answers.empty() && !answers.front().mask_pooler().empty();
  std::map<std::string, std::string> raw;
  int64_t count = 0;
  for (size_t image = 0; image < answers.size(); ++image) {
    for (const v1::Detection& detection : answers[image].detections()) {
      const v1::Box& box = detection.box();
      for (float corner : {box.x1(), box.y1(), box.x2(), box.y2()}) append_value(raw[kBoxes], corner);
      append_value(raw[kScores], detection.score());
      append_value(raw[kLabels], static_cast<int64_t>(detection.class_id()));
      append_bytes_element(raw[kClassNames], detection.class_name());
      if (masks) {
        const v1::Mask& mask = detection.mask();
        append_bytes_element(raw[kMasks], mask.has_coco_rle() ? mask.coco_rle().counts() : mask.png());
      }
      append_value(raw[kImageIndex], static_cast<int64_t>(image));
      ++count;
    }
    add_stage_latencies(answers[image], answers.size() > 1 ? "/" + std::to_string(image) : "", response);
  }
  auto& parameters = *response->mutable_parameters();
  if (!answers.empty()) {
    parameters["head"].set_string_param(answers.front().head());
    parameters["mask_pooler"].set_string_param(answers.front().mask_pooler());
  }
  for (const TensorSpec& spec : output_tensors()) {
    const bool listed = std::count(plan.outputs.begin(), plan.outputs.end(), spec.name) > 0;
    if (!(plan.outputs.empty() ? (masks || spec.name != std::string(kMasks)) : listed)) continue;
    auto* output = response->add_outputs();
    output->set_name(spec.name);
    output->set_datatype(spec.datatype);
    output->add_shape(count);
    if (spec.shape.size() == 2) output->add_shape(spec.shape[1]);
    response->add_raw_output_contents(std::move(raw[spec.name]));
  }
}

}  // namespace roiserve::server::inference_protocol
