#pragma once
// The Open Inference Protocol's REST side on the HTTP frontend, with the
// Triton extensions tritonclient's HTTP client calls:
//   GET  /v2/health/live, /v2/health/ready         (no token: probes)
//   GET  /v2                                        server metadata
//   GET  /v2/models/{name}[/versions/{version}]     model metadata
//   GET  /v2/models/{name}[/versions/{version}]/ready
//   GET  /v2/models/{name}[/versions/{version}]/config
//   GET  /v2/models/stats, /v2/models/{name}[/versions/{version}]/stats
//   POST /v2/models/{name}[/versions/{version}]/infer   JSON, binary data extension
//   POST /v2/repository/index
//   POST /v2/repository/models/{name}/load, .../unload  (admin token)
// Each answers what its gRPC call (inference_service.h) answers, through
// the same functions; infer goes through ModelInferRun after JSON ->
// ModelInferRequest (json_conversion.h).
#include <functional>

#include "server/admission.h"
#include "server/http_frontend.h"
#include "server/inference_protocol/repository_models.h"

namespace roiserve::server::inference_protocol {

void add_v2_routes(HttpFrontend& http, Admission& admission, RepositoryModels& repository,
                   std::function<bool()> ready);

}  // namespace roiserve::server::inference_protocol
